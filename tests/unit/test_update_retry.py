"""`update_with_retry` and the starts sent with their first update send it again only when
the server says it never ran, and the API answers 503 in French when Temporal could not take
the request now.

The server's two "never ran" answers cannot be produced on demand here: FAILED_PRECONDITION
needs a failing workflow task at the right instant, and "UnprocessedUpdate" a worker that
completes a task without the update (seen once in CI, a worker killed while updates queued:
tests/faults/test_worker_kill.py). So the handle below raises exactly what the SDK raises
then; the outage case runs for real in tests/faults/test_temporal_restart.py."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api import errors
from workflows.clients import UNPROCESSED, UpdateNotRun, _update_with_start, update_with_retry


def unprocessed() -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(
        ApplicationError(
            "Workflow Update is rejected because it wasn't processed by worker.",
            type=UNPROCESSED,
        )
    )


def not_ready() -> RPCError:
    return RPCError("workflow task failed", RPCStatusCode.FAILED_PRECONDITION, b"")


class ScriptedHandle:
    """Answers each `execute_update` with the next scripted outcome (raised if an error)."""

    id = "processus-1"

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict] = []

    async def execute_update(self, update, arg, **kwargs):
        self.calls.append({"arg": arg, **kwargs})
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def test_an_update_rejected_as_unprocessed_is_sent_again_with_the_same_id():
    handle = ScriptedHandle(unprocessed(), not_ready(), "fait")
    assert await update_with_retry(handle, "act", "arg", id="u-1") == "fait"
    assert [c["id"] for c in handle.calls] == ["u-1"] * 3


@pytest.mark.parametrize(
    "refusal",
    [
        WorkflowUpdateFailedError(ApplicationError("Déjà retenue.", type="ValueError")),
        RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b""),
        RPCError("server unreachable", RPCStatusCode.UNAVAILABLE, b""),
    ],
)
async def test_a_refusal_or_another_error_is_not_sent_again(refusal):
    handle = ScriptedHandle(refusal, "jamais")
    with pytest.raises(type(refusal)):
        await update_with_retry(handle, "act", "arg")
    assert len(handle.calls) == 1


class ScriptedClient(ScriptedHandle):
    """The same, for an update sent with its workflow's start."""

    async def execute_update_with_start_workflow(self, update, arg, **kwargs):
        return await self.execute_update(update, arg, **kwargs)


async def test_a_start_with_its_update_is_sent_again_with_a_new_start_operation():
    client = ScriptedClient(unprocessed(), "ouverte")
    out = await _update_with_start(
        client,
        "opened",
        "arg",
        update_id="open-1",
        run="run",
        input="input",
        id="campaign-1",
        task_queue="q",
        search_attributes=TypedSearchAttributes.empty,
    )
    assert out == "ouverte"
    first, second = (c["start_workflow_operation"] for c in client.calls)
    assert first is not second  # one start operation cannot be sent twice
    assert [c["id"] for c in client.calls] == ["open-1", "open-1"]


async def never_run():
    return await update_with_retry(ScriptedHandle(unprocessed()), "act", "arg", attempts=1)


async def timed_out():
    raise WorkflowUpdateRPCTimeoutOrCancelledError()


async def not_found():
    raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")


async def test_an_update_never_run_after_every_attempt_is_not_sent_again():
    handle = ScriptedHandle(not_ready(), unprocessed(), unprocessed(), "jamais")
    with pytest.raises(UpdateNotRun):
        await update_with_retry(handle, "act", "arg", attempts=3)
    assert len(handle.calls) == 3


@pytest.mark.parametrize("call", [never_run, timed_out])
async def test_what_temporal_could_not_take_now_is_a_503_in_french(call):
    app = FastAPI()
    errors.install(app)
    app.post("/act")(call)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        r = await api.post("/act")
    assert r.status_code == 503
    assert r.json()["detail"] == errors.ENGINE_BUSY and r.headers["Retry-After"] == "5"


async def test_another_temporal_error_stays_a_500():
    app = FastAPI()
    errors.install(app)
    app.post("/act")(not_found)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as api:
        r = await api.post("/act")
    assert r.status_code == 500
