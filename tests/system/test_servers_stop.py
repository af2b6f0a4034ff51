"""Every server a benchmark or `relais dev` starts is stopped when it ends, however it ends:
`make bench` stopped by SIGTERM, `relais dev` killed with -9 (as after a stalled Ctrl-C).
(The session itself checks at its end that no test left one: tests/conftest.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.leftovers import describe, servers_under

pytestmark = pytest.mark.system


# A watcher notices its owner gone within a poll, then gives Postgres a fast shutdown, an
# immediate one, then SIGKILL, in about 20 s (relais.reaper.stop_cluster): the promise is
# that the server stops, within that bound and a loaded machine's margin.
STOPPED_WITHIN_S = 45


def _until(what, pred, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _names(folder) -> set[str]:
    return {p.name().split("-")[0] for p in servers_under(folder)}


def test_a_benchmark_stopped_by_sigterm_stops_its_postgres_and_temporal(tmp_path):
    # Its throw-away folder is made under TMPDIR: here, this test's own.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    log = open(tmp_path / "bench.log", "wb")
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", "--only", "onboarding", "--rounds", "1", "--large", "0"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _until(
            "the benchmark never started its servers",
            lambda: {"postgres", "temporal"} <= _names(tmp_path),
            120,
        )
        time.sleep(2)  # inside a round
        bench.send_signal(signal.SIGTERM)
        bench.wait(60)
    finally:
        if bench.poll() is None:
            bench.kill()
        log.close()
    _until(
        "servers left by the benchmark:\n" + describe(servers_under(tmp_path)),
        lambda: not servers_under(tmp_path),
        STOPPED_WITHIN_S,
    )


def test_relais_dev_killed_with_minus_9_leaves_no_server(stack):
    stack.start()
    assert {"postgres", "temporal"} <= _names(stack.home)
    stack.kill9()
    _until(
        "servers left by relais dev:\n" + describe(servers_under(stack.home)),
        lambda: not servers_under(stack.home),
        STOPPED_WITHIN_S,
    )
