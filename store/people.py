"""Invitations and sign-in links, as the web, the CLI and the demo send them: the user, the
one-time link and its mail, in the caller's transaction. The mail's real body (with the link)
is sealed in the outbox until it is sent; the body people see there has the link masked."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

import asyncpg

from domain.auth import Role
from domain.people import (
    INVITATION_LIFE,
    LINK_MASK,
    SIGN_IN_LINK_LIFE,
    Invited,
    LinkPurpose,
    UserStatus,
    invitation_mail,
    sign_in_mail,
)
from domain.processes import AuditEvent, OutboxMessage
from store.crypto import Sealer
from store.processes import ProcessRepository
from store.sessions import SessionRepository
from store.users import UserRepository

ORGANISATION_NAME = "SELECT name FROM organisations WHERE id = $1"


def link_url(base_url: str, secret: str) -> str:
    return f"{base_url}/connexion/lien?{urlencode({'jeton': secret})}"


async def _queue(
    conn: asyncpg.Connection,
    sealer: Sealer,
    key: str,
    email: str,
    subject: str,
    body: str,
    link: str,
) -> None:
    await ProcessRepository(conn).enqueue(
        OutboxMessage(
            dedup_key=key, recipient=email, subject=subject, body=body.replace(link, LINK_MASK)
        ),
        sealed_body=sealer.seal(body, key),
    )


async def send_invitation(
    conn: asyncpg.Connection,
    sealer: Sealer,
    base_url: str,
    user_id: UUID,
    *,
    email: str,
    name: str,
    organisation: str,
    inviter: str | None,
) -> datetime:
    """A new invitation link (7 days) mailed to the person; returns its end."""
    link_id, secret, expires_at = await SessionRepository(conn).create_link(
        user_id, LinkPurpose.INVITATION, INVITATION_LIFE
    )
    link = link_url(base_url, secret)
    subject, body = invitation_mail(name, organisation, inviter, link, expires_at)
    await _queue(conn, sealer, f"invitation:{link_id}", email, subject, body, link)
    return expires_at


async def send_sign_in_link(
    conn: asyncpg.Connection,
    sealer: Sealer,
    base_url: str,
    user_id: UUID,
    *,
    email: str,
    name: str,
    next_path: str | None,
) -> None:
    link_id, secret, _ = await SessionRepository(conn).create_link(
        user_id, LinkPurpose.SIGN_IN, SIGN_IN_LINK_LIFE, next_path
    )
    link = link_url(base_url, secret)
    minutes = int(SIGN_IN_LINK_LIFE.total_seconds() // 60)
    subject, body = sign_in_mail(name, link, minutes)
    await _queue(conn, sealer, f"sign-in:{link_id}", email, subject, body, link)


async def invite(
    conn: asyncpg.Connection,
    sealer: Sealer,
    base_url: str,
    *,
    organisation_id: UUID,
    role: Role,
    name: str,
    email: str,
    invited_by: UUID | None,
    inviter: str | None,
) -> Invited:
    """A new user, invited (within the network-role rule, one account per address), their
    invitation mailed, the act audited. Run it in a transaction."""
    users = UserRepository(conn)
    user_id = await users.create_user(
        organisation_id,
        role,
        name,
        email=email,
        status=UserStatus.INVITED,
        invited_by=invited_by,
    )
    organisation = await conn.fetchval(ORGANISATION_NAME, organisation_id)
    expires_at = await send_invitation(
        conn,
        sealer,
        base_url,
        user_id,
        email=email,
        name=name,
        organisation=organisation,
        inviter=inviter,
    )
    await ProcessRepository(conn).audit(
        AuditEvent(
            actor=str(invited_by) if invited_by else "cli",
            action="user.invited",
            entity_type="user",
            entity_id=str(user_id),
            data={"organisation_id": str(organisation_id), "role": role.value},
        )
    )
    return Invited(user_id=user_id, email=email, link_expires_at=expires_at)
