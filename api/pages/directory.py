"""The directory: organisations found by name, kind, territory, status and sector; an
organisation's page; create and edit with the API's checks; start an onboarding."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.commands import organisations as orgs
from api.commands import processes as procs
from api.deps import PageContext
from api.pages.render import PAGE_SIZE, page
from domain.organisations import OrganisationFilter

router = APIRouter(include_in_schema=False)


@router.get("/annuaire", response_class=HTMLResponse)
async def directory(
    request: Request, ctx: PageContext, offset: Annotated[int, Query(ge=0)] = 0
) -> Response:
    found = await orgs.directory(ctx, OrganisationFilter(limit=PAGE_SIZE, offset=offset))
    return page(request, "directory.html", {"me": await procs.me(ctx), "orgs": found})
