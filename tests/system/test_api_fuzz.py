"""Schemathesis against the running stack's OpenAPI (bounded examples): whatever a client
sends, within the schema or not, the answer is never a 5xx, and input outside the schema
starts no workflow."""

from __future__ import annotations

import asyncio
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from temporalio.client import Client

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


def _fuzz(stack: DevStack, strategies) -> tuple[int, int, list[str]]:
    """Every operation of the OpenAPI, a bounded number of generated requests each, as the
    network's staff (who see everything) and as a member (who sees its own)."""
    tokens = stack.tokens()
    auths = [
        {"Authorization": f"Bearer {tokens[f'staff:{NETWORK}']}"},
        {"Authorization": f"Bearer {tokens['member:Logistique des Arnavaux']}"},
    ]
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    failures: list[str] = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=strategies(operation))
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
                response = case.call(base_url=stack.url, headers=headers, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{case.as_curl_command()}"
                    )

        try:
            check()
        except Unsatisfiable:  # no parameter to get wrong (GET /health, /api/me…)
            continue
    return operations, calls, failures


async def _workflow_count(stack: DevStack) -> int:
    """Workflows the stack's Temporal server knows, once the count is stable (the demo's
    processes start in the background)."""
    client = await Client.connect(f"127.0.0.1:{stack.env['RELAIS_DEV_TEMPORAL_PORT']}")
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 3:
        n = (await client.count_workflows()).count
        if n != last:
            last, stable_since = n, time.monotonic()
        await asyncio.sleep(0.5)
    return last


def test_invalid_input_starts_no_workflow(fuzzed):
    """Requests outside the schema (negative examples only) are refused before anything
    starts: the Temporal server counts the same workflows before and after."""
    before = asyncio.run(_workflow_count(fuzzed))
    operations, calls, failures = _fuzz(fuzzed, lambda op: op.as_strategy(GenerationMode.NEGATIVE))
    assert asyncio.run(_workflow_count(fuzzed)) == before
    assert operations > 40 and calls > operations
    assert not failures, "\n".join(failures[:20])


def test_no_server_error_on_any_route(fuzzed):
    """Valid and invalid bodies, odd path and query values: never a 5xx."""
    operations, calls, failures = _fuzz(
        fuzzed,
        lambda op: (
            op.as_strategy(GenerationMode.POSITIVE) | op.as_strategy(GenerationMode.NEGATIVE)
        ),
    )
    assert operations > 40 and calls > operations * EXAMPLES
    assert not failures, "\n".join(failures[:20])
