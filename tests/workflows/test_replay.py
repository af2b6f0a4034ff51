"""Checked-in histories replay against today's workflow code: a change that would break
running workflows fails here (use `workflow.patched` for such changes).

Re-record after an intended, patched change with `RELAIS_RECORD_HISTORIES=1 pytest tests/workflows`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from relais.settings import Settings
from relais.temporal import data_converter
from worker.main import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_every_workflow_type_has_a_history():
    recorded = {
        json.loads(p.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for p in HISTORIES
    }
    assert recorded == {w.__name__ for w in WORKFLOWS}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path):
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=data_converter(Settings(dev_mode=True)),
        workflow_runner=workflow_runner(),
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await replayer.replay_workflow(history)
