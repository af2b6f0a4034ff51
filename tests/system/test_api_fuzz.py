"""Schemathesis against the running stack's OpenAPI (bounded examples): whatever a client
sends, within the schema or not, the answer is never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.system.conftest import DevStack

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
EXAMPLES = 10


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    s = DevStack(tmp_path_factory.mktemp("fuzz") / "relais-home")
    s.start()
    yield s
    s.ctrl_c()


def test_no_server_error_on_any_route(fuzzed):
    """Every operation of the OpenAPI, a bounded number of generated requests each (valid and
    invalid bodies, odd path and query values), as the network's staff (who see everything)
    and as a member (who sees its own): never a 5xx."""
    tokens = fuzzed.tokens()
    auths = [
        {"Authorization": f"Bearer {tokens[f'staff:{NETWORK}']}"},
        {"Authorization": f"Bearer {tokens['member:Logistique des Arnavaux']}"},
    ]
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    failures: list[str] = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        positive = operation.as_strategy(GenerationMode.POSITIVE)
        negative = operation.as_strategy(GenerationMode.NEGATIVE)

        @given(case=positive | negative)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            nonlocal calls
            for headers in auths:
                calls += 1
                response = case.call(base_url=fuzzed.url, headers=headers, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{case.as_curl_command()}"
                    )

        check()
    assert operations > 40 and calls > operations * EXAMPLES
    assert not failures, "\n".join(failures[:20])
