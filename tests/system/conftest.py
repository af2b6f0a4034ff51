"""The embedded stack as a user runs it: `relais dev` in its own process tree."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

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
            "RELAIS_DEV_SMTP_PORT": str(free_port()),
            "RELAIS_DEV_METRICS_PORT": str(free_port()),
            "RELAIS_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.api_port}"
        self._sessions: dict[str, dict[str, str]] = {}

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

    def database_url(self) -> str:
        """The embedded Postgres, through its socket (for a test that moves time along)."""
        lines = (self.home / "pg" / "postmaster.pid").read_text().splitlines()
        return f"postgresql://postgres:@/relais?host={lines[4]}"

    def links(self) -> dict[str, str]:
        """The banner's sign-in links (the latest start's): `role:organisation` → link."""
        text = (self.home.parent / "dev.log").read_text(errors="replace")
        return {
            f"{m[1]}:{m[3]}": m[4]
            for m in re.finditer(
                r"^  (\w+) +(.+?) \((.+)\)\n +(http\S+/connexion/lien\?jeton=\S+)$", text, re.M
            )
        }

    def session(self, who: str) -> dict[str, str]:
        """A demo person signed in by their printed link as a browser does it (the link's
        page, then its button): the browser's cookies. Each link opens one session: the
        cookies are kept for the next call."""
        if who in self._sessions:
            return self._sessions[who]
        self._sessions[who] = self.activate(self.links()[who])
        return self._sessions[who]

    def activate(self, link: str) -> dict[str, str]:
        """Open a mail's link as a browser does (its page, then its button): the cookies."""
        with httpx.Client(timeout=30) as http:
            page = http.get(link)
            assert page.status_code == 200, page.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf, page.text
            token = parse_qs(urlsplit(link).query)["jeton"][0]
            r = http.post(f"{self.url}/connexion/lien", data={"csrf": csrf[1], "jeton": token})
            assert r.status_code == 303, r.text
            return dict(http.cookies)

    def mail_link(self, to: str, subject: str, within_s: float = 60) -> str:
        """The link of the first mail with this subject the dev mailbox received for `to`."""
        from relais.mail import read_mailbox

        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for m in read_mailbox(self.home / "mailbox", limit=10_000):
                if to in m.to and m.subject == subject:
                    found = re.search(r"https?://\S+", m.body)
                    assert found, m.body
                    return found.group()
            time.sleep(0.5)
        raise AssertionError(f"no mail « {subject} » for {to}\n" + self.tail())

    def people(self, *specs: tuple[str, str, str, str]) -> dict[str, str]:
        """People invited with `relais user invite` (organisation, role, address, name), each
        activating their account from the invitation's mail, then given an API token with
        `relais token create`: address → token."""
        for org, role, email, name in specs:
            self.cli("user", "invite", "--dev", "--org", org, "--role", role,
                     "--email", email, "--name", name)  # fmt: skip
        for _, _, email, _ in specs:
            self.activate(self.mail_link(email, "Votre accès à Relais"))
        return {
            email: self.cli("token", "create", "--dev", "--email", email, "--name", "tests")
            .strip()
            .splitlines()[-1]
            for _, _, email, _ in specs
        }

    def get(self, path: str, token: str) -> httpx.Response:
        return httpx.get(self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def post(self, path: str, token: str, body: dict) -> httpx.Response:
        return httpx.post(
            self.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def cli(self, *args: str) -> str:
        """`relais …` against this stack's embedded database."""
        env = {k: v for k, v in self.env.items() if k != "RELAIS_DATABASE_URL"}
        out = subprocess.run(
            [str(RELAIS), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout


@pytest.fixture
def stack(tmp_path):
    """`relais dev` in a home of its own, stopped with Ctrl-C after the test if still up
    (used by the system and the browser tests)."""
    s = DevStack(tmp_path / "relais-home")
    yield s
    if s.proc and s.proc.poll() is None:
        s.ctrl_c()
