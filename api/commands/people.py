"""People's acts: invite and disable users; ask for a sign-in link, sign in with it or with a
password, sign out; one's sessions, password, name, notification preference and API tokens.

Acts before signing in take a `Visitor` (no principal: who they are is what they prove);
every other act is a `@command` of the signed-in caller. Sign-in answers the same whether
the address exists or not, and is rate-limited per address and per client."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import structlog
from temporalio.client import Client

from api.commands.base import OPERATORS, Ctx, command
from api.commands.limits import Limit, enforce
from domain.auth import Role
from domain.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from domain.people import (
    FRESH_LINK_SESSION,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenPublic,
    InvitationCreate,
    Invited,
    LinkPurpose,
    LinkRequest,
    LinkSignIn,
    NameSet,
    NotifySet,
    PasswordSet,
    PasswordSignIn,
    SessionMethod,
    SessionPublic,
    SignedIn,
    UserRow,
    UserStatus,
    safe_next,
)
from domain.processes import AuditEvent
from relais.passwords import hash_password, verify_password
from relais.settings import Settings
from store.crypto import Sealer
from store.people import invite as store_invite
from store.people import send_invitation, send_sign_in_link
from store.processes import ProcessRepository
from store.sessions import LinkRefusal, SessionRepository
from store.users import UserRepository
from workflows.outbox import OUTBOX_RELAY_ID

log = structlog.get_logger(__name__)

WINDOW = timedelta(minutes=15)
LINKS_PER_ADDRESS = Limit("link-address", 5, WINDOW, "Trop de liens demandés pour cette adresse")
LINKS_PER_CLIENT = Limit("link-client", 30, WINDOW, "Trop de liens demandés depuis ce poste")
LINK_USES_PER_CLIENT = Limit("link-use-client", 60, WINDOW, "Trop de liens ouverts depuis ce poste")
PASSWORDS_PER_ADDRESS = Limit(
    "password-address", 10, WINDOW, "Trop d'essais de mot de passe pour cette adresse"
)
PASSWORDS_PER_CLIENT = Limit(
    "password-client", 30, WINDOW, "Trop d'essais de mot de passe depuis ce poste"
)
INVITATIONS_PER_USER = Limit(
    "invitations-user", 50, timedelta(hours=1), "Trop d'invitations envoyées en une heure"
)

WRONG_PASSWORD = "Adresse ou mot de passe incorrect."  # noqa: S105 (a sentence)
LINK_REFUSALS = {
    LinkRefusal.UNKNOWN: "Ce lien de connexion n'est pas valide : demandez-en un nouveau.",
    LinkRefusal.USED: "Ce lien a déjà servi : chaque lien n'ouvre qu'une session. "
    "Demandez-en un nouveau.",
    LinkRefusal.EXPIRED: "Ce lien a expiré : demandez-en un nouveau.",
}
DISABLED = "Ce compte est désactivé : adressez-vous à l'équipe du réseau."


@dataclass(frozen=True)
class Visitor:
    """Someone not signed in (yet): the request's connection, where they come from."""

    conn: asyncpg.Connection
    settings: Settings
    sealer: Sealer
    client: Client
    address: str  # the client's IP address, for rate limits only
    user_agent: str = ""


async def wake_mail(client: Client) -> None:
    """A mail a person waits for (a link): ask the outbox sender to send now rather than at
    its next poll. Best effort: the poll sends it anyway."""
    with contextlib.suppress(Exception):
        await client.get_workflow_handle(OUTBOX_RELAY_ID).signal(
            "wake", rpc_timeout=timedelta(seconds=2)
        )


# --- before signing in ---------------------------------------------------------------


async def request_link(v: Visitor, body: LinkRequest) -> None:
    """Mail a one-time sign-in link (15 min) to the address if it is a person's; the same
    answer, and nothing said, when it is not."""
    await enforce(v, LINKS_PER_ADDRESS, body.email)
    await enforce(v, LINKS_PER_CLIENT, v.address)
    async with v.conn.transaction():
        found = await UserRepository(v.conn).by_email(body.email)
        user = found[0] if found is not None else None
        email = user.email if user is not None else None
        if user is None or user.status == UserStatus.DISABLED or email is None:
            log.info("sign-in link requested", sent=False)
            return
        await send_sign_in_link(
            v.conn,
            v.sealer,
            v.settings.base_url,
            user.id,
            email=email,
            name=user.name,
            next_path=safe_next(body.next_path),
        )
    log.info("sign-in link requested", sent=True, user_id=str(user.id))
    await wake_mail(v.client)


async def _open_session(v: Visitor, user_id: UUID, method: SessionMethod) -> SignedIn:
    sessions = SessionRepository(v.conn)
    session_id, secret, expires_at = await sessions.create(
        user_id, method, v.user_agent, v.settings.session_lifetime
    )
    await UserRepository(v.conn).signed_in(user_id)
    return SignedIn(session_id=session_id, secret=secret, user_id=user_id, expires_at=expires_at)


async def sign_in_with_link(v: Visitor, body: LinkSignIn) -> SignedIn:
    """Use a sign-in or invitation link: once, before it expires. An invitation activates
    the account. The link is spent in the transaction that opens the session."""
    await enforce(v, LINK_USES_PER_CLIENT, v.address)
    async with v.conn.transaction():
        use = await SessionRepository(v.conn).consume_link(body.token)
        if isinstance(use, LinkRefusal):
            raise NotAuthenticated(LINK_REFUSALS[use])
        users = UserRepository(v.conn)
        user = await users.row(use.user_id)
        if user is None or user.status == UserStatus.DISABLED:
            raise NotAuthenticated(DISABLED)
        if user.status == UserStatus.INVITED:
            await users.activate(user.id)
            await ProcessRepository(v.conn).audit(
                AuditEvent(
                    actor=str(user.id),
                    action="user.activated",
                    entity_type="user",
                    entity_id=str(user.id),
                )
            )
        method = (
            SessionMethod.INVITATION
            if use.purpose == LinkPurpose.INVITATION
            else SessionMethod.LINK
        )
        signed = await _open_session(v, user.id, method)
    log.info("signed in", user_id=str(user.id), method=method.value)
    return signed.model_copy(update={"next_path": safe_next(use.next_path)})


async def sign_in_with_password(v: Visitor, body: PasswordSignIn) -> SignedIn:
    """An address and its password; one sentence for every refusal (unknown address, no
    password set, wrong password, account not active)."""
    await enforce(v, PASSWORDS_PER_ADDRESS, body.email)
    await enforce(v, PASSWORDS_PER_CLIENT, v.address)
    users = UserRepository(v.conn)
    found = await users.by_email(body.email)
    user, stored = found if found else (None, None)
    ok, renew = await verify_password(stored, body.password)
    if not ok or user is None or user.status != UserStatus.ACTIVE:
        log.info("password sign-in refused")
        raise NotAuthenticated(WRONG_PASSWORD)
    async with v.conn.transaction():
        if renew:
            await users.set_password_hash(user.id, await hash_password(body.password))
        signed = await _open_session(v, user.id, SessionMethod.PASSWORD)
    log.info("signed in", user_id=str(user.id), method="password")
    return signed.model_copy(update={"next_path": safe_next(body.next_path)})


# --- users ---------------------------------------------------------------------------


async def list_users(ctx: Ctx) -> list[UserRow]:
    """The network's operators see everyone; anyone else their own organisation's people."""
    p = ctx.principal
    scope = None if p.role in OPERATORS else p.organisation_id
    return await UserRepository(ctx.conn).list(scope)


async def visible_user(ctx: Ctx, user_id: UUID) -> UserRow:
    user = await UserRepository(ctx.conn).row(user_id)
    p = ctx.principal
    if user is None or not (p.role in OPERATORS or user.organisation_id == p.organisation_id):
        raise NotFound.of("Utilisateur")
    return user


@command(audited=False)
async def invite(ctx: Ctx, body: InvitationCreate) -> Invited:
    """Invite a person by mail. Operators (admin, staff) name the organisation and the role,
    within the network-role rule; anyone else invites colleagues of their own organisation
    with their own role. Inviting again someone who has not yet accepted sends a new link."""
    p = ctx.principal
    if p.role in OPERATORS:
        if body.organisation_id is None:
            raise Invalid("organisation_id", "choisissez l'organisation de la personne")
        if body.role is None:
            raise Invalid("role", "choisissez le rôle de la personne")
        organisation_id, role = body.organisation_id, body.role
    else:
        if body.organisation_id not in (None, p.organisation_id):
            raise Forbidden("Vous invitez des collègues de votre organisation seulement.")
        if body.role not in (None, p.role):
            raise Forbidden("Vous invitez des collègues avec votre propre rôle seulement.")
        organisation_id, role = p.organisation_id, p.role
    await enforce(ctx, INVITATIONS_PER_USER, str(p.user_id))
    async with ctx.conn.transaction():
        users = UserRepository(ctx.conn)
        found = await users.by_email(body.email)
        if found is not None:
            existing = found[0]
            again = existing.status == UserStatus.INVITED and (
                existing.organisation_id == organisation_id and existing.role == role
            )
            if not again:
                raise Conflict("Un compte existe déjà pour cette adresse de courriel.")
            expires_at = await send_invitation(
                ctx.conn,
                ctx.sealer,
                ctx.settings.base_url,
                existing.id,
                email=body.email,
                name=existing.name,
                organisation=existing.organisation_name,
                inviter=p.name,
            )
            invited = Invited(user_id=existing.id, email=body.email, link_expires_at=expires_at)
        else:
            invited = await store_invite(
                ctx.conn,
                ctx.sealer,
                ctx.settings.base_url,
                organisation_id=organisation_id,
                role=role,
                name=body.name,
                email=body.email,
                invited_by=p.user_id,
                inviter=p.name,
            )
    log.info("user invited", user_id=str(invited.user_id), by=str(p.user_id))
    await wake_mail(ctx.client)
    return invited


@command(*OPERATORS, audited=False)
async def disable_user(ctx: Ctx, user: UserRow) -> UserRow:
    """Disable a person at once: their sessions end, their tokens and unused links stop
    working. Nobody disables themselves; only an admin disables an admin."""
    p = ctx.principal
    if user.id == p.user_id:
        raise Conflict("Vous ne pouvez pas désactiver votre propre compte.")
    if user.role == Role.ADMIN and p.role != Role.ADMIN:
        raise Forbidden("Seule l'administration désactive un compte d'administration.")
    async with ctx.conn.transaction():
        users = UserRepository(ctx.conn)
        if await users.disable(user.id):
            await SessionRepository(ctx.conn).delete_of_user(user.id)
            await users.revoke_all_tokens(user.id)
            await SessionRepository(ctx.conn).expire_links(user.id)
            await ProcessRepository(ctx.conn).audit(
                AuditEvent(
                    actor=str(p.user_id),
                    action="user.disabled",
                    entity_type="user",
                    entity_id=str(user.id),
                )
            )
    log.info("user disabled", user_id=str(user.id), by=str(p.user_id))
    found = await UserRepository(ctx.conn).row(user.id)
    assert found is not None
    return found


# --- my account ----------------------------------------------------------------------


async def my_account(ctx: Ctx) -> UserRow:
    user = await UserRepository(ctx.conn).row(ctx.principal.user_id)
    if user is None:
        raise NotFound.of("Utilisateur")
    return user


@command(audited=False)
async def sign_out(ctx: Ctx) -> None:
    """End the session the caller came with (the cookie then opens nothing)."""
    if ctx.principal.session_id is not None:
        await SessionRepository(ctx.conn).delete(ctx.principal.session_id)
    log.info("signed out", user_id=str(ctx.principal.user_id))


async def my_sessions(ctx: Ctx) -> list[SessionPublic]:
    found = await SessionRepository(ctx.conn).of_user(
        ctx.principal.user_id, ctx.settings.session_idle
    )
    return [s.model_copy(update={"current": s.id == ctx.principal.session_id}) for s in found]


@command(audited=False)
async def end_session(ctx: Ctx, session_id: UUID) -> None:
    """End one of one's own sessions (another's is missing, as an unknown one)."""
    if not await SessionRepository(ctx.conn).end_own(session_id, ctx.principal.user_id):
        raise NotFound.of("Session")


@command(audited=False)
async def set_name(ctx: Ctx, body: NameSet) -> None:
    await UserRepository(ctx.conn).set_name(ctx.principal.user_id, body.name)


@command(audited=False)
async def set_notify(ctx: Ctx, body: NotifySet) -> None:
    await UserRepository(ctx.conn).set_notify(ctx.principal.user_id, body.notify)


@command(audited=False)
async def set_password(ctx: Ctx, body: PasswordSet) -> None:
    """Set or change one's password: the current one is asked for, unless none was set or
    the session was opened from a mail link in the last 15 minutes (the person just proved
    they read that mailbox). The person's other sessions end."""
    p = ctx.principal
    stored = await UserRepository(ctx.conn).password_hash(p.user_id)
    if stored is not None and not await _fresh_link_session(ctx):
        ok, _ = await verify_password(stored, body.current or "")
        if not ok:
            raise Invalid("current", "le mot de passe actuel ne correspond pas")
    new_hash = await hash_password(body.password)
    async with ctx.conn.transaction():
        await UserRepository(ctx.conn).set_password_hash(p.user_id, new_hash)
        if p.session_id is not None:
            await SessionRepository(ctx.conn).delete_others(p.user_id, p.session_id)
    log.info("password set", user_id=str(p.user_id))


async def _fresh_link_session(ctx: Ctx) -> bool:
    if ctx.principal.session_id is None:
        return False
    row = await SessionRepository(ctx.conn).get(ctx.principal.session_id)
    if row is None or row["method"] == SessionMethod.PASSWORD:
        return False
    return datetime.now(UTC) - row["created_at"] < FRESH_LINK_SESSION


# --- API tokens ----------------------------------------------------------------------


async def my_tokens(ctx: Ctx) -> list[ApiTokenPublic]:
    return await UserRepository(ctx.conn).tokens(ctx.principal.user_id)


@command(audited=False)
async def create_token(ctx: Ctx, body: ApiTokenCreate) -> ApiTokenCreated:
    """A named API token for one's own machines, with the caller's role, expiring; shown
    once. Made from a signed-in session only: a token cannot make more tokens."""
    p = ctx.principal
    if p.session_id is None:
        raise Forbidden("Les jetons d'API se créent depuis « Mon compte », une fois connecté.")
    expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    token, public = await UserRepository(ctx.conn).create_token(
        p.user_id, body.name, expires_at=expires_at
    )
    log.info("api token created", user_id=str(p.user_id), token_id=str(public.id))
    return ApiTokenCreated(token=token, public=public)


@command(audited=False)
async def revoke_token(ctx: Ctx, token_id: UUID) -> None:
    """Revoke one of one's own tokens (another's is missing, as an unknown one)."""
    users = UserRepository(ctx.conn)
    if not await users.token_owned(token_id, ctx.principal.user_id):
        raise NotFound.of("Jeton")
    await users.revoke_token(token_id, ctx.principal.user_id)
    log.info("api token revoked", user_id=str(ctx.principal.user_id), token_id=str(token_id))
