"""No log mode prints a traceback's local variables: they may hold a candidate's e-mail or
name (structlog's console renderer shows them when rich or better-exceptions is there)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import logging, structlog
from relais.logging import configure_logging

configure_logging(json={json})


def refer(candidate_email):
    first_name = "Inès-Secrète"
    raise RuntimeError("refused")


try:
    refer("ines.martin@example.fr")
except RuntimeError:
    structlog.get_logger("relais.test").exception("referral failed", referral_id="r-1")
    logging.getLogger("temporalio.activity").exception("activity failed")
"""


@pytest.mark.parametrize("json", [False, True], ids=["console", "json"])
def test_a_traceback_never_shows_local_variables(json):
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(json=json)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "referral failed" in out.stderr and "RuntimeError: refused" in out.stderr
    assert "activity failed" in out.stderr
    assert "ines.martin@example.fr" not in out.stderr
    assert "Inès-Secrète" not in out.stderr
