"""`update_with_retry` sends an update again only when the server says it never ran, and the
API answers 503 in French when it never does.

The server's two "never ran" answers cannot be produced on demand here: FAILED_PRECONDITION
needs a failing workflow task at the right instant, and "UnprocessedUpdate" a worker that
completes a task without the update (seen once in CI, a worker killed while updates queued:
tests/faults/test_worker_kill.py). So the handle below raises exactly what the SDK raises
then; the outage case runs for real in tests/faults/test_temporal_restart.py."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api import errors
from workflows.clients import UNPROCESSED, UpdateNotRun, update_with_retry


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


async def test_an_update_never_run_after_every_attempt_is_a_503_in_french():
    handle = ScriptedHandle(not_ready(), unprocessed(), unprocessed())
    with pytest.raises(UpdateNotRun):
        await update_with_retry(handle, "act", "arg", attempts=3)
    assert len(handle.calls) == 3

    app = FastAPI()
    errors.install(app)

    @app.post("/act")
    async def act():
        return await update_with_retry(ScriptedHandle(unprocessed()), "act", "arg", attempts=1)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        r = await api.post("/act")
    assert r.status_code == 503
    assert r.json()["detail"] == errors.NOT_RUN and r.headers["Retry-After"] == "5"
