"""The app driven through its own lifespan, against real Postgres and the dev server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import httpx
import pytest

from api.app import create_app
from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.factories import make_org, make_user
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
    user_id: UUID
    organisation_id: UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def page_headers(self) -> dict[str, str]:
        """What a signed-in browser sends to the pages."""
        return {"Cookie": f"relais_token={self.token}"}


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
        out[role.value] = Actor(user_id, org.id, token)
    return out
