"""The app driven through its own lifespan, against real Postgres and the dev server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import pytest
from aiosmtpd.controller import Controller
from temporalio.testing import ActivityEnvironment

from activities.mail import MailActivities
from api.app import create_app
from domain.auth import Role
from domain.organisations import OrganisationKind
from domain.processes import OutboxBatch
from relais.mail import MaildirHandler, ReceivedMail, SmtpTransport, read_mailbox
from tests.factories import Session, make_org, make_user, session_for
from tests.system.conftest import free_port
from worker.main import build_worker


@pytest.fixture
async def api_settings(settings, dev_env):
    return settings.model_copy(
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )


@pytest.fixture
async def client(api_settings, db, dev_env) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings)
    async with (
        app.router.lifespan_context(app),
        build_worker(dev_env.client, db, api_settings),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c


@dataclass
class Actor:
    """A user as the API knows them (`headers`: their token) and as the pages do (`session`:
    a signed-in browser's cookie and CSRF token)."""

    user_id: UUID
    organisation_id: UUID
    token: str
    session: Session | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def actors(db) -> dict[str, Actor]:
    """One user per role; the member and the agency each in their own organisation."""
    network = await make_org(db, OrganisationKind.ASSOCIATION, name="Réseau Nord")
    homes = {
        Role.ADMIN: network,
        Role.STAFF: network,
        Role.MANAGER: network,
        Role.MEMBER: await make_org(db, name="Boulangerie du Canet"),
        Role.AGENCY: await make_org(db, OrganisationKind.AGENCY, name="Agence Nord"),
        Role.PARTNER: await make_org(db, OrganisationKind.CHAMBER, name="CMA 13"),
    }
    out = {}
    for role, org in homes.items():
        user_id, token = await make_user(db, org.id, role)
        out[role.value] = Actor(user_id, org.id, token, await session_for(db, user_id))
    return out


class Mailbox:
    """A real SMTP server in this process (standing for everyone's mail provider) and the
    outbox sender's own code to deliver what Relais queued."""

    def __init__(self, settings, pool, path: Path, port: int) -> None:
        s = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
        self.sender = MailActivities(pool, s, SmtpTransport(s))
        self.path = path

    async def deliver(self) -> list[ReceivedMail]:
        """Send what is due, then everything received so far (newest first)."""
        await ActivityEnvironment().run(self.sender.send_due, OutboxBatch(limit=100))
        return read_mailbox(self.path)

    async def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in await self.deliver() if address in m.to]


def link_in(mail: ReceivedMail) -> str:
    """The Relais link of a mail, as a path to request on the test client."""
    url = re.search(r"https?://\S+", mail.body)
    assert url, mail.body
    parts = urlsplit(url.group())
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
def mailbox(api_settings, db, tmp_path):
    port = free_port()
    controller = Controller(MaildirHandler(tmp_path / "mailbox"), hostname="127.0.0.1", port=port)
    controller.start()
    yield Mailbox(api_settings, db, tmp_path / "mailbox", port)
    controller.stop()


def browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser (its own cookies) on the same app."""
    return httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
