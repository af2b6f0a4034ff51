"""The pages' templates and what every template may use: the French labels of the enums,
money and dates as people read them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.pages.formats import FILTERS
from api.security import csrf_field
from domain.actions import FOLLOW_UPS, TaskAction
from domain.auth import Role
from domain.convention import KPI_LABELS, PARTY_ROLE_LABELS
from domain.formats import euros
from domain.labels import (
    KIND_LABELS,
    KIND_SINGULAR,
    NOTIFY_LABELS,
    PROCESS_LABELS,
    ROLE_LABELS,
    SESSION_METHOD_LABELS,
    STATUS_LABELS,
    STEP_LABELS,
    USER_STATUS_LABELS,
)
from domain.organisations import OrganisationKind

HERE = Path(__file__).resolve().parent.parent

PAGE_SIZE = 50  # rows of a page that lists (the directory, the tasks)

NETWORK = frozenset({Role.ADMIN, Role.STAFF, Role.MANAGER})
# The menu, in one place: each entry with the roles that see it (None: everyone).
MENU: list[tuple[str, str, frozenset[Role] | None]] = [
    ("/tableau-de-bord", "Tableau de bord", None),
    ("/mes-taches", "Mes tâches", None),
    ("/processus", "Processus", None),
    ("/annuaire", "Annuaire", None),
    ("/campagnes", "Recrutements", NETWORK | {Role.MEMBER, Role.AGENCY}),
    ("/candidats", "Mes candidats", frozenset({Role.AGENCY})),
    ("/catalogue", "Services mutualisés", NETWORK | {Role.MEMBER}),
    ("/commandes", "Commandes", frozenset({Role.PARTNER})),
    ("/reservations", "Réservations", NETWORK | {Role.MEMBER}),
    ("/conventions", "Conventions", NETWORK | {Role.PARTNER}),
    ("/visites", "Visites", NETWORK | {Role.PARTNER}),
    ("/utilisateurs", "Utilisateurs", None),
    ("/boite-mail", "Courriels", NETWORK),
    ("/mon-compte", "Mon compte", None),
]


# Pages that belong to a menu entry's area without sharing its prefix.
SECTIONS: dict[str, tuple[str, ...]] = {
    "/catalogue": ("/services", "/factures", "/mutualisations"),
    "/campagnes": ("/selection",),
}


# Entries for some kinds of organisation only: a provider's orders.
MENU_KINDS: dict[str, frozenset[str]] = {"/commandes": frozenset({OrganisationKind.PROVIDER})}


def menu(role: str, kind: str | None = None) -> list[tuple[str, str]]:
    return [
        (href, label)
        for href, label, roles in MENU
        if (roles is None or role in roles) and (href not in MENU_KINDS or kind in MENU_KINDS[href])
    ]


def in_section(path: str, href: str) -> bool:
    """Whether the page at `path` is in the menu entry `href`'s area (marked current)."""
    return any(path == p or path.startswith(p + "/") for p in (href, *SECTIONS.get(href, ())))


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
    follow_ups=FOLLOW_UPS,
    menu=menu,
    in_section=in_section,
    user_statuses=USER_STATUS_LABELS,
    notify_labels=NOTIFY_LABELS,
    session_methods=SESSION_METHOD_LABELS,
    # Every state-changing form carries its one line: {{ csrf_field(request) }}
    csrf_field=csrf_field,
)


def width_class(percent: float | int | None) -> str:
    """A bar's width as a class (`w-0` … `w-100`, in relais.css): pages carry no inline
    style, the CSP allows none."""
    value = 0 if percent is None else round(max(0.0, min(100.0, float(percent))))
    return f"w-{value}"


_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """A mail's plain text with its web addresses as links (the rest escaped)."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out += [
            str(escape(text[last : m.start()])),
            f'<a href="{escape(m.group())}">{escape(m.group())}</a>',
        ]
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 (every part escaped above)


templates.env.filters.update(FILTERS)
templates.env.filters.update(w=width_class, linkify=linkify)


def page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
