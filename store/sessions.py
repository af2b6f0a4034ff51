"""Server-side sessions and one-time sign-in links. The cookie and the link carry a 256-bit
secret; only its SHA-256 is kept, so a copy of the tables opens nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

import asyncpg

from domain.auth import Principal
from domain.people import LinkPurpose, SessionMethod, SessionPublic
from store.pool import Conn
from store.users import TOUCH_EVERY, hash_token, new_secret

INSERT_SESSION = """
INSERT INTO sessions (id, secret_hash, user_id, method, user_agent, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
RETURNING expires_at"""
# One statement per page: the session, its person, and whether it is still good.
RESOLVE = """
SELECT s.id AS session_id, s.last_seen_at, s.expires_at, s.created_at, s.method,
       u.id AS user_id, u.organisation_id, u.role, u.name, u.status, now() AS now
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.secret_hash = $1"""
TOUCH = "UPDATE sessions SET last_seen_at = now() WHERE id = $1"
DELETE = "DELETE FROM sessions WHERE id = $1"
DELETE_OF_USER = "DELETE FROM sessions WHERE user_id = $1"
DELETE_OTHERS = "DELETE FROM sessions WHERE user_id = $1 AND id <> $2"
END_OWN = "DELETE FROM sessions WHERE id = $1 AND user_id = $2"
LIST_OF_USER = """
SELECT id, method, user_agent, created_at, last_seen_at, expires_at FROM sessions
WHERE user_id = $1 AND expires_at > now() AND last_seen_at > now() - make_interval(secs => $2)
ORDER BY last_seen_at DESC, id"""
GET = "SELECT id, user_id, method, created_at FROM sessions WHERE id = $1"

INSERT_LINK = """
INSERT INTO sign_in_links (id, token_hash, user_id, purpose, next_path, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
RETURNING expires_at"""
# Single use: the row is marked in the transaction that opens the session; a second
# attempt (even concurrent: it waits on the row lock) finds it used.
CONSUME_LINK = """
UPDATE sign_in_links SET used_at = now()
WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING id, user_id, purpose, next_path"""
LINK_STATE = "SELECT used_at IS NOT NULL AS used FROM sign_in_links WHERE token_hash = $1"
PEEK_LINK = """
SELECT l.purpose, l.expires_at <= now() AS expired, l.used_at, u.name, u.status
FROM sign_in_links l JOIN users u ON u.id = l.user_id WHERE l.token_hash = $1"""
EXPIRE_LINKS = """
UPDATE sign_in_links SET expires_at = now() WHERE user_id = $1 AND used_at IS NULL
  AND expires_at > now()"""

PURGE = (
    "DELETE FROM sessions WHERE expires_at < now() OR last_seen_at < now() - interval '2 days'",
    "DELETE FROM sign_in_links WHERE expires_at < now() - interval '30 days'",
)


class SessionEnd(StrEnum):
    """Why a session cookie opens nothing."""

    UNKNOWN = "unknown"  # ended (sign-out, disabled user) or never existed
    EXPIRED = "expired"  # idle too long, or past its absolute end


@dataclass(frozen=True)
class OpenSession:
    principal: Principal
    created_at: datetime
    method: SessionMethod


class LinkRefusal(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class LinkUse:
    link_id: UUID
    user_id: UUID
    purpose: LinkPurpose
    next_path: str | None


@dataclass(frozen=True)
class LinkPeek:
    """What a link's page says before it is used (it is used only by its form)."""

    purpose: LinkPurpose
    name: str
    refusal: LinkRefusal | None


class SessionRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def create(
        self, user_id: UUID, method: SessionMethod, user_agent: str, lifetime: timedelta
    ) -> tuple[UUID, str, datetime]:
        """A new session: its id, the secret for the cookie, its absolute end."""
        session_id, secret = uuid4(), new_secret()
        expires_at = await self.conn.fetchval(
            INSERT_SESSION,
            session_id,
            hash_token(secret),
            user_id,
            method,
            user_agent[:200],
            lifetime.total_seconds(),
        )
        return session_id, secret, expires_at

    async def resolve(self, secret: str, idle: timedelta) -> OpenSession | SessionEnd:
        """The person behind a cookie, or why there is none. An expired session is deleted;
        a good one is touched at most once a minute."""
        row = await self.conn.fetchrow(RESOLVE, hash_token(secret))
        if row is None:
            return SessionEnd.UNKNOWN
        now = row["now"]
        if row["expires_at"] <= now or now - row["last_seen_at"] >= idle:
            await self.conn.execute(DELETE, row["session_id"])
            return SessionEnd.EXPIRED
        if row["status"] != "active":
            await self.conn.execute(DELETE, row["session_id"])
            return SessionEnd.UNKNOWN
        if now - row["last_seen_at"] >= TOUCH_EVERY:
            await self.conn.execute(TOUCH, row["session_id"])
        principal = Principal(
            user_id=row["user_id"],
            organisation_id=row["organisation_id"],
            role=row["role"],
            name=row["name"],
            session_id=row["session_id"],
        )
        return OpenSession(principal, row["created_at"], SessionMethod(row["method"]))

    async def get(self, session_id: UUID) -> asyncpg.Record | None:
        return await self.conn.fetchrow(GET, session_id)

    async def delete(self, session_id: UUID) -> None:
        await self.conn.execute(DELETE, session_id)

    async def end_own(self, session_id: UUID, user_id: UUID) -> bool:
        return await self.conn.execute(END_OWN, session_id, user_id) == "DELETE 1"

    async def delete_of_user(self, user_id: UUID) -> None:
        await self.conn.execute(DELETE_OF_USER, user_id)

    async def delete_others(self, user_id: UUID, keep: UUID) -> None:
        await self.conn.execute(DELETE_OTHERS, user_id, keep)

    async def of_user(self, user_id: UUID, idle: timedelta) -> list[SessionPublic]:
        rows = await self.conn.fetch(LIST_OF_USER, user_id, idle.total_seconds())
        return [SessionPublic.model_validate(dict(r)) for r in rows]

    # --- one-time links --------------------------------------------------------------

    async def create_link(
        self,
        user_id: UUID,
        purpose: LinkPurpose,
        lifetime: timedelta,
        next_path: str | None = None,
    ) -> tuple[UUID, str, datetime]:
        """A link's id, its secret (for the mail only) and its end."""
        link_id, secret = uuid4(), new_secret()
        expires_at = await self.conn.fetchval(
            INSERT_LINK,
            link_id,
            hash_token(secret),
            user_id,
            purpose,
            next_path,
            lifetime.total_seconds(),
        )
        return link_id, secret, expires_at

    async def peek_link(self, secret: str) -> LinkPeek | None:
        row = await self.conn.fetchrow(PEEK_LINK, hash_token(secret))
        if row is None:
            return None
        refusal = None
        if row["used_at"] is not None:
            refusal = LinkRefusal.USED
        elif row["expired"]:
            refusal = LinkRefusal.EXPIRED
        return LinkPeek(LinkPurpose(row["purpose"]), row["name"], refusal)

    async def consume_link(self, secret: str) -> LinkUse | LinkRefusal:
        digest = hash_token(secret)
        row = await self.conn.fetchrow(CONSUME_LINK, digest)
        if row is not None:
            return LinkUse(row["id"], row["user_id"], LinkPurpose(row["purpose"]), row["next_path"])
        used = await self.conn.fetchval(LINK_STATE, digest)
        if used is None:
            return LinkRefusal.UNKNOWN
        return LinkRefusal.USED if used else LinkRefusal.EXPIRED

    async def expire_links(self, user_id: UUID) -> None:
        await self.conn.execute(EXPIRE_LINKS, user_id)

    async def purge(self) -> None:
        for sql in PURGE:
            await self.conn.execute(sql)
