"""People's pages: « Connexion » (a link by mail, or a password), the link's page, sign-out,
« Mon compte » (name, mail preference, password, sessions, API tokens) and « Utilisateurs »
(invite, disable). Every act goes through its command (`api.commands.people`)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from api.commands import people
from api.commands import processes as procs
from api.commands.base import OPERATORS, Ctx, refuse_role
from api.deps import LoginRequired, PageContext, VisitorContext, session_principal
from api.errors import describe
from api.pages import picker
from api.pages.render import page
from api.security import clear_session_cookie, session_cookie, set_session_cookie
from api.validation import field_errors
from domain.auth import Role
from domain.errors import Invalid
from domain.organisations import OrganisationFilter
from domain.people import (
    NETWORK_KINDS,
    ApiTokenCreate,
    InvitationCreate,
    LinkPurpose,
    LinkRequest,
    LinkSignIn,
    NameSet,
    NotifyPreference,
    NotifySet,
    PasswordSet,
    PasswordSignIn,
    SignedIn,
    safe_next,
)
from store.sessions import SessionEnd, SessionRepository

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

LINK_SENT = (
    "Si cette adresse est celle d'un compte Relais, un lien de connexion vient d'y être "
    "envoyé. Il est valable 15 minutes et ne sert qu'une fois."
)
Text = Annotated[str, Form(max_length=500)]
INVITED = OrganisationFilter()  # the organisations an operator invites people into


def _model(cls: type[M], data: dict[str, Any]) -> M:
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise Invalid.of(field_errors(err.errors())) from None


def _message(err: Exception) -> tuple[str, int, dict[str, str]]:
    refusal = describe(err)
    if refusal is None:
        raise err
    message = refusal.detail
    if refusal.errors:
        message = "; ".join(f"{e.field or 'formulaire'} : {e.message}" for e in refusal.errors)
    return message, refusal.status_code, refusal.headers


def _back(url: str, done: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}{urlencode({'fait': done})}", status.HTTP_303_SEE_OTHER)


def _signed_in(request: Request, signed: SignedIn, default: str) -> Response:
    """Into the session: its cookie, then where the person was going."""
    response = RedirectResponse(signed.next_path or default, status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, request.app.state.settings, signed.secret)
    return response


async def _end_previous(request: Request, v: people.Visitor) -> None:
    """Signing in on a browser that still holds a session ends that one."""
    secret = request.cookies.get(session_cookie(v.settings))
    if secret:
        found = await SessionRepository(v.conn).resolve(secret, v.settings.session_idle)
        if not isinstance(found, SessionEnd) and found.principal.session_id is not None:
            await SessionRepository(v.conn).delete(found.principal.session_id)


# --- connexion -------------------------------------------------------------------------


def _login(request: Request, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    base = {"suite": None, "expired": False, "signed_out": False, "error": None, "sent": None}
    return page(request, "login.html", {**base, **context}, status_code)


@router.get("/connexion", response_class=HTMLResponse)
async def login_form(
    request: Request,
    v: VisitorContext,
    suite: str | None = None,
    expiree: str | None = None,
    fin: str | None = None,
) -> Response:
    try:
        signed_in = await session_principal(request, v.conn)
    except LoginRequired:
        signed_in = None
    if signed_in is not None:
        return RedirectResponse(safe_next(suite) or "/tableau-de-bord", status.HTTP_303_SEE_OTHER)
    return _login(
        request,
        {"suite": safe_next(suite), "expired": expiree == "1", "signed_out": fin == "1"},
    )


@router.post("/connexion/demande-lien", response_class=HTMLResponse)
async def ask_link(
    request: Request, v: VisitorContext, email: Text = "", suite: Text = ""
) -> Response:
    try:
        await people.request_link(v, _model(LinkRequest, {"email": email, "next_path": suite}))
    except Exception as err:
        message, code, headers = _message(err)
        response = _login(request, {"error": message, "suite": safe_next(suite)}, code)
        response.headers.update(headers)
        return response
    return _login(request, {"sent": LINK_SENT, "suite": safe_next(suite)})


@router.post("/connexion/mot-de-passe", response_class=HTMLResponse)
async def password_sign_in(
    request: Request,
    v: VisitorContext,
    email: Text = "",
    password: Annotated[str, Form(max_length=200)] = "",
    suite: Text = "",
) -> Response:
    try:
        body = _model(PasswordSignIn, {"email": email, "password": password, "next_path": suite})
        signed = await people.sign_in_with_password(v, body)
        await _end_previous(request, v)
    except Exception as err:
        message, code, headers = _message(err)
        response = _login(request, {"error": message, "suite": safe_next(suite)}, code)
        response.headers.update(headers)
        return response
    return _signed_in(request, signed, "/tableau-de-bord")


@router.get("/connexion/lien", response_class=HTMLResponse)
async def link_page(request: Request, v: VisitorContext, jeton: str = "") -> Response:
    """The link of a mail: a page with one button, so that a mail scanner opening the link
    spends nothing and no other site can sign the browser in."""
    peek = await SessionRepository(v.conn).peek_link(jeton) if 10 <= len(jeton) <= 200 else None
    if peek is None or peek.refusal is not None:
        refusal = (peek.refusal if peek else None) or people.LinkRefusal.UNKNOWN
        response = _login(request, {"error": people.LINK_REFUSALS[refusal]}, 401)
    else:
        response = page(
            request,
            "link.html",
            {
                "token": jeton,
                "name": peek.name,
                "invitation": peek.purpose == LinkPurpose.INVITATION,
            },
        )
    response.headers["referrer-policy"] = "no-referrer"
    return response


@router.post("/connexion/lien", response_class=HTMLResponse)
async def use_link(request: Request, v: VisitorContext, jeton: Text = "") -> Response:
    try:
        signed = await people.sign_in_with_link(v, _model(LinkSignIn, {"token": jeton}))
        await _end_previous(request, v)
    except Exception as err:
        message, code, headers = _message(err)
        response = _login(request, {"error": message}, code)
        response.headers.update(headers)
        return response
    return _signed_in(request, signed, "/tableau-de-bord")


@router.post("/deconnexion")
async def logout(request: Request, ctx: PageContext) -> Response:
    await people.sign_out(ctx)
    response = RedirectResponse("/connexion?fin=1", status.HTTP_303_SEE_OTHER)
    clear_session_cookie(response, ctx.settings)
    return response


# --- mon compte ------------------------------------------------------------------------


async def _account(
    request: Request,
    ctx: Ctx,
    *,
    done: str | None = None,
    error: str | None = None,
    created: Any = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "account.html",
        {
            "me": await procs.me(ctx),
            "account": await people.my_account(ctx),
            "sessions": await people.my_sessions(ctx),
            "tokens": await people.my_tokens(ctx),
            "preferences": list(NotifyPreference),
            "done": done,
            "error": error,
            "created": created,
        },
        status_code,
    )


@router.get("/mon-compte", response_class=HTMLResponse)
async def account_page(request: Request, ctx: PageContext, fait: str | None = None) -> Response:
    return await _account(request, ctx, done=fait)


async def _account_act(request: Request, ctx: Ctx, act: Any, done: str) -> Response:
    try:
        await act
    except Exception as err:
        message, code, headers = _message(err)
        response = await _account(request, ctx, error=message, status_code=code)
        response.headers.update(headers)
        return response
    return _back("/mon-compte", done)


@router.post("/mon-compte/nom")
async def rename(request: Request, ctx: PageContext, name: Text = "") -> Response:
    async def act() -> None:
        await people.set_name(ctx, _model(NameSet, {"name": name}))

    return await _account_act(request, ctx, act(), "Nom enregistré")


@router.post("/mon-compte/preference")
async def set_preference(request: Request, ctx: PageContext, notify: Text = "") -> Response:
    async def act() -> None:
        await people.set_notify(ctx, _model(NotifySet, {"notify": notify}))

    return await _account_act(request, ctx, act(), "Préférence de courriel enregistrée")


@router.post("/mon-compte/mot-de-passe")
async def set_password(
    request: Request,
    ctx: PageContext,
    password: Annotated[str, Form(max_length=200)] = "",
    current: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    async def act() -> None:
        body = {"password": password, "current": current or None}
        await people.set_password(ctx, _model(PasswordSet, body))

    return await _account_act(
        request, ctx, act(), "Mot de passe enregistré ; vos autres sessions sont terminées"
    )


@router.post("/mon-compte/sessions/{session_id}/fin")
async def end_session(request: Request, session_id: UUID, ctx: PageContext) -> Response:
    if session_id == ctx.principal.session_id:
        return await logout(request, ctx)
    return await _account_act(request, ctx, people.end_session(ctx, session_id), "Session terminée")


@router.post("/mon-compte/jetons", response_class=HTMLResponse)
async def create_token(
    request: Request, ctx: PageContext, name: Text = "", expires_in_days: Text = "90"
) -> Response:
    """The new token is shown on this answer only (never in a URL, never again)."""
    try:
        body = _model(ApiTokenCreate, {"name": name, "expires_in_days": expires_in_days})
        created = await people.create_token(ctx, body)
    except Exception as err:
        message, code, headers = _message(err)
        response = await _account(request, ctx, error=message, status_code=code)
        response.headers.update(headers)
        return response
    return await _account(request, ctx, created=created)


@router.post("/mon-compte/jetons/{token_id}/revocation")
async def revoke_token(request: Request, token_id: UUID, ctx: PageContext) -> Response:
    return await _account_act(request, ctx, people.revoke_token(ctx, token_id), "Jeton révoqué")


# --- utilisateurs ----------------------------------------------------------------------


async def _users(
    request: Request,
    ctx: Ctx,
    *,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    organisation: picker.Pick | None = None,
) -> HTMLResponse:
    p = ctx.principal
    operator = p.role in OPERATORS
    form = form or {}
    if operator and organisation is None:  # the invited person's organisation
        organisation = await picker.pick(
            ctx, INVITED, "organisation_id", *picker.typed(form, "organisation_id")
        )
    return page(
        request,
        "users.html",
        {
            "me": await procs.me(ctx),
            "users": await people.list_users(ctx),
            "operator": operator,
            "organisation": organisation,
            "network_kinds": {k.value for k in NETWORK_KINDS},
            "all_roles": list(Role),
            "done": done,
            "error": error,
            "errors": errors or {},
            "form": form,
        },
        status_code,
    )


@router.get("/utilisateurs", response_class=HTMLResponse)
async def users_page(request: Request, ctx: PageContext, fait: str | None = None) -> Response:
    return await _users(request, ctx, done=fait)


@router.post("/utilisateurs", response_class=HTMLResponse)
async def invite(
    request: Request,
    ctx: PageContext,
    email: Text = "",
    name: Text = "",
    organisation_id: Text = "",
    organisation_id_texte: Text = "",
    role: Text = "",
) -> Response:
    form = {"email": email, "name": name, "organisation_id": organisation_id, "role": role}
    if ctx.principal.role in OPERATORS:  # the organisation, found by its name if typed
        form["organisation_id_texte"] = organisation_id_texte
        unsettled, chosen = await picker.resolve(
            ctx, INVITED, "organisation_id", *picker.typed(form, "organisation_id")
        )
        if unsettled is not None:
            said = {"organisation_id": picker.refusal(unsettled)}
            return await _users(
                request, ctx, form=form, status_code=422, errors=said, organisation=unsettled
            )
        form["organisation_id"] = chosen or ""
    try:
        data = {k: v for k, v in form.items() if v.strip() and k in InvitationCreate.model_fields}
        invited = await people.invite(ctx, _model(InvitationCreate, data))
    except Exception as err:
        message, code, headers = _message(err)
        response = await _users(request, ctx, error=message, form=form, status_code=code)
        response.headers.update(headers)
        return response
    return _back("/utilisateurs", f"Invitation envoyée à {invited.email}")


@router.post("/utilisateurs/{user_id}/desactivation")
async def disable(request: Request, user_id: UUID, ctx: PageContext) -> Response:
    try:
        if not people.disable_user.allows(ctx.principal):  # the role first, as the API does
            raise refuse_role(people.disable_user.roles, ctx.principal)
        user = await people.visible_user(ctx, user_id)
        await people.disable_user(ctx, user)
    except Exception as err:
        message, code, headers = _message(err)
        response = await _users(request, ctx, error=message, status_code=code)
        response.headers.update(headers)
        return response
    return _back("/utilisateurs", f"Compte de {user.name} désactivé")
