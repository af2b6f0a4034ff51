"""The pages' templates and what every template may use: the French labels of the enums,
money and dates as people read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.pages.formats import FILTERS
from domain.actions import TaskAction
from domain.auth import Role
from domain.convention import KPI_LABELS, PARTY_ROLE_LABELS
from domain.formats import euros
from domain.labels import (
    KIND_LABELS,
    KIND_SINGULAR,
    PROCESS_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    STEP_LABELS,
)

HERE = Path(__file__).resolve().parent.parent

NETWORK = frozenset({Role.ADMIN, Role.STAFF, Role.MANAGER})
# The menu, in one place: each entry with the roles that see it (None: everyone).
MENU: list[tuple[str, str, frozenset[Role] | None]] = [
    ("/tableau-de-bord", "Tableau de bord", None),
    ("/mes-taches", "Mes tâches", None),
    ("/processus", "Processus", None),
    ("/annuaire", "Annuaire", None),
    ("/boite-mail", "Courriels", NETWORK),
]


def menu(role: str) -> list[tuple[str, str]]:
    return [(href, label) for href, label, roles in MENU if roles is None or role in roles]


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    processes_fr=PROCESS_LABELS,
    euros=euros,
    party_roles=PARTY_ROLE_LABELS,
    kpi_labels=KPI_LABELS,
    kinds=KIND_LABELS,
    kind=KIND_SINGULAR,
    statuses=STATUS_LABELS,
    steps=STEP_LABELS,
    roles=ROLE_LABELS,
    Action=TaskAction,
    menu=menu,
)
templates.env.filters.update(FILTERS)


def page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
