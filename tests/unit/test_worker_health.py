"""The worker's healthcheck (`relais health --worker`) reads the heartbeat the worker writes
while Postgres and Temporal answer: fresh is healthy, stale or missing is not."""

from __future__ import annotations

import os
import time

from worker.health import STALE_AFTER_S, _write, check_heartbeat


def test_fresh_stale_and_missing_heartbeats(tmp_path):
    path = tmp_path / "worker.health"
    assert "absent" in check_heartbeat(path)
    _write(path)
    assert check_heartbeat(path) is None
    assert path.read_text().split()[1] == str(os.getpid())
    path.write_text(f"{time.time() - STALE_AFTER_S - 5:.0f} 1\n")
    problem = check_heartbeat(path)
    assert problem and "Postgres ou Temporal" in problem
