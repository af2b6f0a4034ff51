"""`relais dev` as a user runs it: a real process tree, stopped by Ctrl-C or kill -9."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.system

RELAIS = Path(sys.executable).parent / "relais"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevStack:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.api_port = free_port()
        self.env = {
            **os.environ,
            "RELAIS_HOME": str(home),
            "RELAIS_API_PORT": str(self.api_port),
            "RELAIS_DEV_TEMPORAL_PORT": str(free_port()),
            "RELAIS_DEV_TEMPORAL_UI_PORT": str(free_port()),
            "RELAIS_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.api_port}"

    def start(self) -> float:
        t0 = time.monotonic()
        self.log = open(self.home.parent / "dev.log", "ab")
        self.proc = subprocess.Popen(
            [str(RELAIS), "dev"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = t0 + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.tail()
            try:
                r = httpx.get(f"{self.url}/health", timeout=2)
                if r.status_code == 200:
                    assert r.json() == {"status": "ok", "postgres": "up", "temporal": "up"}
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("relais dev never became healthy\n" + self.tail())

    def tail(self) -> str:
        return (self.home.parent / "dev.log").read_text(errors="replace")[-3000:]

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def ctrl_c(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(60)
        self.log.close()
        return code

    def tokens(self) -> dict[str, str]:
        rows = json.loads((self.home / "demo-tokens.json").read_text())
        return {f"{t['role']}:{t['organisation']}": t["token"] for t in rows}

    def get(self, path: str, token: str) -> httpx.Response:
        return httpx.get(self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def post(self, path: str, token: str, body: dict) -> httpx.Response:
        return httpx.post(
            self.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


@pytest.fixture
def stack(tmp_path):
    s = DevStack(tmp_path / "relais-home")
    yield s
    if s.proc and s.proc.poll() is None:
        s.ctrl_c()


def _waiting_onboardings(stack: DevStack, staff: str) -> list[dict]:
    r = stack.get("/api/processes?process=onboarding&status=waiting", staff)
    return r.json()["items"]


def test_waiting_workflow_survives_kill9_and_ctrl_c(stack):
    cold = stack.start()
    print(f"\ncold start to healthy: {cold:.1f} s")
    tokens = stack.tokens()
    staff = tokens["staff:Entreprendre au Nord de Marseille"]
    member = tokens["member:Pressing de Saint-Antoine"]

    # The demo data opens two onboardings that wait on their members.
    deadline = time.monotonic() + 30
    while len(_waiting_onboardings(stack, staff)) < 2:
        assert time.monotonic() < deadline, "demo onboardings never reached their wait"
        time.sleep(0.2)
    me = stack.get("/api/me", member).json()
    org_id = me["organisation_id"]
    assert stack.get(f"/api/organisations/{org_id}", member).json()["status"] == "pending"

    stack.kill9()
    warm = stack.start()
    print(f"restart after kill -9: {warm:.1f} s")
    assert stack.tokens()["staff:Entreprendre au Nord de Marseille"] == staff  # loaded once

    r = stack.post(f"/api/onboardings/{org_id}/charter", member, {"request_id": "after-kill"})
    assert r.status_code == 200, r.text
    assert r.json()["step"] == "active"
    assert stack.get(f"/api/organisations/{org_id}", member).json()["status"] == "active"

    assert stack.ctrl_c() == 0
    stack.start()
    assert stack.get(f"/api/organisations/{org_id}", member).json()["status"] == "active"
    assert len(_waiting_onboardings(stack, staff)) == 1
    assert stack.ctrl_c() == 0

    # Contacts travel encrypted: the Temporal database never holds them in clear.
    for f in stack.home.glob("temporal.db*"):
        assert b"leila.amrani@example.fr" not in f.read_bytes(), f.name
