"""Choosing an organisation in a form, at any size of directory: a list to pick from while
the choices are few; past `PICK_MAX`, a field for its name, commune or SIRET, resolved by the
directory's search when the form is sent (one match: that one; several: they are listed to
choose from, what was typed kept; none: said beside the field). No JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from api.commands import organisations as orgs
from api.commands.base import Ctx
from domain.errors import DomainError
from domain.organisations import OrganisationFilter, OrganisationPublic

PICK_MAX = 300  # organisations a form lists to pick from; past that, it asks for a name
MATCHES = 10  # organisations an ambiguous search lists


@dataclass
class Pick:
    """What the form shows for one organisation field."""

    name: str  # the form field carrying the organisation's id
    options: list[OrganisationPublic] | None  # a list to pick from; None: a search field
    value: str = ""  # the id chosen
    text: str = ""  # the search typed (field `{name}_texte`)
    matches: list[OrganisationPublic] = field(default_factory=list)  # to choose among

    @property
    def text_name(self) -> str:
        return f"{self.name}_texte"


def typed(raw: Any, name: str) -> tuple[str, str]:
    """The id chosen and the search typed for the field `name`, as the form sent them."""
    return str(raw.get(name, "")).strip(), str(raw.get(f"{name}_texte", "")).strip()


async def pick(ctx: Ctx, f: OrganisationFilter, name: str, value: str = "", text: str = "") -> Pick:
    """The field `name` for the organisations of `f`: their list while there are at most
    `PICK_MAX`, else a search field (with the organisation already chosen offered again)."""
    return (await picks(ctx, f, [(name, value, text)]))[0]


async def picks(ctx: Ctx, f: OrganisationFilter, fields: list[tuple[str, str, str]]) -> list[Pick]:
    """`pick` for several fields choosing among the same organisations (name, id chosen,
    search typed), the directory read once."""
    found = await orgs.directory(ctx, f.model_copy(update={"limit": PICK_MAX, "offset": 0}))
    if found.total <= PICK_MAX and not found.total_is_lower_bound:
        return [Pick(name, found.items, value) for name, value, _ in fields]
    out = []
    for name, value, text in fields:
        chosen = []
        if value:
            try:
                chosen = [await orgs.visible_organisation(ctx, UUID(value))]
            except (ValueError, DomainError):  # an id that names nothing is simply not offered
                chosen = []
        out.append(Pick(name, None, value, text, chosen))
    return out


async def resolve(
    ctx: Ctx, f: OrganisationFilter, name: str, value: str, text: str
) -> tuple[Pick | None, str | None]:
    """The id to give the command for the field `name`: `value` when one was chosen and no
    search typed (the command checks it), or chosen among the matches of the search still
    typed; else the one organisation of `f` the search `text` finds — what is typed beside
    an organisation chosen earlier is another one looked for. Returns (None, id or None)
    when settled; else (the field to show again, None) with the matches to choose among, or
    none and an error for the form to say."""
    if not text:
        return None, value or None
    try:
        search = OrganisationFilter.model_validate(
            {**f.model_dump(), "q": text, "limit": MATCHES, "offset": 0}
        )
    except ValidationError:  # a search nothing can match (too long, control characters)
        return Pick(name, None, "", text, []), None
    found = await orgs.directory(ctx, search)
    ids = [str(o.id) for o in found.items]
    if value and value in ids:
        return None, value
    if len(ids) == 1 and found.total == 1:
        return None, ids[0]
    return Pick(name, None, "", text, found.items), None


def refusal(p: Pick) -> str:
    """The error beside a search field that did not settle."""
    if not p.matches:
        return f"aucune organisation ne correspond à « {p.text} » : vérifiez le nom ou le SIRET."
    more = "au moins " if len(p.matches) >= MATCHES else ""
    return f"{more}{len(p.matches)} organisations correspondent : choisissez-la ci-dessous."
