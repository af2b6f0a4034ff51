"""`relais dev` as a user runs it: a real process tree, stopped by Ctrl-C or kill -9."""

from __future__ import annotations

import time

import pytest

from tests.system.conftest import DevStack

pytestmark = pytest.mark.system


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
