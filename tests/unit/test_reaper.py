"""The watcher that stops an embedded Postgres when its owner is gone never leaves it running
on an error of its own: a stop that fails in any way ends with SIGKILL to the postmaster."""

from __future__ import annotations

import subprocess

import pytest

from relais import reaper


def test_a_stop_that_fails_kills_the_postmaster(tmp_path, monkeypatch):
    # A process standing for the postmaster, named by its postmaster.pid as Postgres does.
    postmaster = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "postmaster.pid").write_text(f"{postmaster.pid}\n/tmp/pg\n")

        def broken(pgdata, timeout_s=20):
            raise RuntimeError("pg_ctl introuvable")

        monkeypatch.setattr(reaper, "stop_cluster", broken)
        with pytest.raises(RuntimeError):
            reaper._stop_or_kill(tmp_path)
        assert postmaster.wait(5) == -9
    finally:
        if postmaster.poll() is None:
            postmaster.kill()
