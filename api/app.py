"""App factory: the lifespan opens the pool and the Temporal client and puts them on
`app.state`; nothing is created at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.limits import BodyLimit
from api.pages import booking as booking_pages
from api.pages import campaigns, candidates, dashboard, directory, people, visits
from api.pages import convention as convention_pages
from api.pages import pooling as pooling_pages
from api.pages.render import mount_static
from api.routes import (
    booking,
    codec,
    convention,
    health,
    onboarding,
    organisations,
    pooling,
    processes,
    recruitment,
)
from api.security import CsrfGuard, SecurityHeaders
from relais import metrics
from relais.logging import configure_logging
from relais.settings import Settings
from relais.temporal import connect
from store.crypto import Sealer
from store.pool import create_pool


class RequestMetrics:
    """Counts the requests answered and times them, by method, route (the template, not
    ids) and status. A plain ASGI middleware: Starlette's `@app.middleware("http")` ran
    every request in a task group of its own, its answer passed through memory streams."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, answer)
        route = getattr(scope.get("route"), "path", "other")
        attrs = {"method": scope["method"], "route": route, "status": str(status)}
        metrics.counter("relais_http_requests", "API requests answered").add(1, attrs)
        metrics.duration("relais_http_request_duration", "API response time").record(
            timedelta(seconds=time.perf_counter() - started), attrs
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(json=settings.json_logs, level=settings.log_level)
        metrics.install_runtime(settings)
        app.state.settings = settings
        app.state.sealer = Sealer(settings.data_keys)
        app.state.pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        try:
            app.state.client = await connect(settings)
            yield
        finally:
            await app.state.pool.close()

    # The docs' Swagger UI and ReDoc served from the package, not a CDN: they work without
    # internet access, and no third-party script runs on the dashboard's origin.
    app = FastAPIOffline(
        title="Relais",
        description=(
            "Processus mutualisés d'un réseau d'entreprises : recrutements, services partagés, "
            "conventions. Authentification : `Authorization: Bearer <jeton>` (un jeton créé "
            "sur « Mon compte » ou par `relais token create`) ; l'API ne lit aucun cookie."
        ),
        version="0.1.0",
        lifespan=lifespan,
        # Swagger UI would otherwise send the spec to validator.swagger.io for its badge.
        swagger_ui_parameters={"validatorUrl": None},
    )
    errors.install(app)

    app.add_middleware(RequestMetrics)

    for module in (
        health,
        codec,
        organisations,
        onboarding,
        processes,
        recruitment,
        pooling,
        booking,
        convention,
        convention_pages,
        dashboard,
        directory,
        campaigns,
        candidates,
        pooling_pages,
        booking_pages,
        visits,
        people,
    ):
        app.include_router(module.router)
    app.include_router(organisations.changes)
    mount_static(app)
    # Each added wraps the ones before. Outward: the CSRF guard (it reads a form's body),
    # the body limit (before any body is read: the guard's, the app's), then the headers
    # on every answer, refusals included.
    app.add_middleware(CsrfGuard, settings=settings)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, settings=settings)
    return app
