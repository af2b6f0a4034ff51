"""Embedded Postgres clusters (pgserver) stopped when their owner ends, however it ends.

pgserver stops a cluster when the last process holding it exits normally; a process killed
with -9 (or by an unhandled SIGTERM, or forced out after a stalled stop) never does, and a
cluster restarted behind pgserver's back (a fault test) is one it no longer knows. So:

- `stop_cluster(pgdata)` stops whatever Postgres runs on that data folder, from its
  `postmaster.pid`, fast then immediate, in bounded time;
- `guard(pgdata)` starts a small watcher process (`python -m relais.reaper`) that waits
  for its parent to end, then stops the cluster unless another live process still holds it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 0.5


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _system_user() -> str | None:
    # As root, pgserver runs Postgres as its own user; pg_ctl must run as that user too.
    return "pgserver" if os.name == "posix" and os.geteuid() == 0 else None


def stop_cluster(pgdata: Path, timeout_s: float = 20) -> bool:
    """Stop the Postgres running on `pgdata` (fast shutdown: sessions are ended, nothing
    committed is lost), then immediate, then SIGKILL, within about `timeout_s`. True if one
    was running."""
    from pgserver import pg_ctl  # type: ignore[attr-defined]  # made at import by pgserver

    pgdata = Path(pgdata)
    pid = _postmaster_pid(pgdata)
    if pid is None or not _alive(pid):
        return False
    for mode, wait in (("fast", timeout_s * 0.7), ("immediate", timeout_s * 0.3)):
        try:
            pg_ctl(
                ["-w", "-t", str(max(int(wait), 1)), "-m", mode, "stop"],
                pgdata=pgdata,
                user=_system_user(),
                timeout=wait + 5,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        if not _alive(pid):
            return True
    os.kill(pid, signal.SIGKILL)
    return True


def _live_handles(pgdata: Path) -> list[int]:
    """The processes pgserver counts as holding the cluster, the dead ones forgotten."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return []
    alive = [p for p in pids if _alive(p)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
    return alive


def guard(pgdata: Path) -> subprocess.Popen:
    """Watch this process: once it has ended, stop the cluster on `pgdata` unless another
    live process still holds it. The watcher has its own session, so a Ctrl-C meant for
    this process does not reach it."""
    return subprocess.Popen(  # noqa: S603 - our own module, with our own arguments
        [sys.executable, "-m", "relais.reaper", str(Path(pgdata).resolve()), str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


HOLDERS_WAIT_S = 10  # how long holders other than the owner may take to let go


def watch(pgdata: Path, owner: int) -> None:
    from pgserver.postgres_server import PostgresServer

    while _alive(owner) and os.getppid() == owner:
        time.sleep(POLL_S)
    # pgserver's own lock: a process taking the cluster meanwhile (`relais dev` started
    # again at once) either is counted before the decision or finds it stopped and starts it.
    # A holder still alive (one ending just after its owner) is waited for, a while.
    deadline = time.monotonic() + HOLDERS_WAIT_S
    while True:
        with PostgresServer._lock:
            if not _live_handles(pgdata):
                _stop_or_kill(pgdata)
                return
        if time.monotonic() > deadline:
            return
        time.sleep(POLL_S)


def _stop_or_kill(pgdata: Path) -> None:
    """`stop_cluster`, and SIGKILL to the postmaster if that fails in any way: a watcher
    that ends on an error leaves a server running for ever."""
    try:
        stop_cluster(pgdata)
    except Exception:
        pid = _postmaster_pid(pgdata)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)
        raise


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(Path(sys.argv[1]), int(sys.argv[2]))
