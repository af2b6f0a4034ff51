"""Only same-site paths go back into a « Retour » link or a redirect."""

from __future__ import annotations

import pytest

from api.urls import same_site_path


@pytest.mark.parametrize(
    "value",
    [
        "/\t/evil.example/x",  # the form decoded %09: a browser drops the tab
        "/%09/evil.example/x",
        "//evil.example/x",
        "/\\evil.example/x",
        "/%5Cevil.example/x",
        "/%2F%2Fevil.example/x",
        "%2F%2Fevil.example",
        "/%252F%252Fevil.example",  # twice encoded
        "\\\\evil.example",
        "https://evil.example/x",
        "javascript:alert(1)",
        "/\nLocation: https://evil.example",
        "/\r\n/evil.example",
        " /mes-taches",
        "/ /evil.example",
        "mes-taches",
        "/mes-taches\x00",
        "/%00",
        "/\u3002evil.example",  # an ideographic full stop
    ],
)
def test_off_site_or_odd_values_fall_back(value):
    assert same_site_path(value, "/mes-taches") == "/mes-taches"


@pytest.mark.parametrize(
    "value",
    ["/mes-taches", "/processus/campaign-1f0e?page=2&status=open", "/tableau-de-bord", "/a%20b"],
)
def test_paths_of_the_site_are_kept(value):
    assert same_site_path(value, "/mes-taches") == value


def test_nothing_gives_the_default():
    assert same_site_path(None, "/x") == "/x" and same_site_path("", "/x") == "/x"
