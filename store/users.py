"""Users (people with an address, a status, a notification preference and maybe a password)
and their API tokens. Secrets are never stored: only a SHA-256 of each token."""

from __future__ import annotations

import builtins
import hashlib
import secrets
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import asyncpg

from domain.auth import Principal, Role, UserPublic
from domain.errors import Conflict, Forbidden, NotFound
from domain.organisations import OrganisationKind
from domain.people import (
    ApiTokenPublic,
    NotifyPreference,
    UserRow,
    UserStatus,
    role_refusal,
)
from store.pool import Conn

TOKEN_PREFIX = "rl_"
# A token's or session's last use is written at most this often: no write per request.
TOUCH_EVERY = timedelta(minutes=1)

ORGANISATION_KIND = "SELECT kind FROM organisations WHERE id = $1"
INSERT_USER = """
INSERT INTO users (id, organisation_id, role, name, email, status, invited_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)"""
USER_COLUMNS = """
u.id, u.organisation_id, o.name AS organisation_name, o.kind AS organisation_kind, u.role,
u.name, u.email, u.status, u.notify, u.password_hash IS NOT NULL AS has_password,
u.last_sign_in_at, u.created_at"""
USER_FROM = "FROM users u JOIN organisations o ON o.id = u.organisation_id"
GET_ROW = f"SELECT {USER_COLUMNS} {USER_FROM} WHERE u.id = $1"
BY_EMAIL = f"SELECT {USER_COLUMNS}, u.password_hash {USER_FROM} WHERE lower(u.email) = lower($1)"
LIST_USERS = f"""
SELECT {USER_COLUMNS} {USER_FROM}
WHERE $1::uuid IS NULL OR u.organisation_id = $1
ORDER BY o.name, u.status = 'disabled', lower(u.name), u.id LIMIT $2"""
GET_USER = """
SELECT u.id, u.organisation_id, o.name AS organisation_name, o.kind AS organisation_kind,
       u.role, u.name, u.email
FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = $1"""
SET_STATUS_ACTIVE = """
UPDATE users SET status = 'active', updated_at = now() WHERE id = $1 AND status = 'invited'"""
SIGNED_IN = "UPDATE users SET last_sign_in_at = now() WHERE id = $1"
DISABLE = """
UPDATE users SET status = 'disabled', disabled_at = now(), updated_at = now()
WHERE id = $1 AND status <> 'disabled'"""
SET_NAME = "UPDATE users SET name = $2, updated_at = now() WHERE id = $1"
SET_NOTIFY = "UPDATE users SET notify = $2, updated_at = now() WHERE id = $1"
PASSWORD_HASH = "SELECT password_hash FROM users WHERE id = $1"
SET_PASSWORD = "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1"

INSERT_TOKEN = """
INSERT INTO api_tokens (id, token_hash, user_id, label, expires_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, label AS name, created_at, expires_at, last_used_at, revoked_at"""
PRINCIPAL = """
SELECT u.id AS user_id, u.organisation_id, u.role, u.name, t.id AS token_id, t.last_used_at,
       now() AS now
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL
  AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.status = 'active'"""
TOKEN_USED = "UPDATE api_tokens SET last_used_at = now() WHERE id = $1"
TOKEN_COLUMNS = "id, label AS name, created_at, expires_at, last_used_at, revoked_at"
LIST_TOKENS = f"""
SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1
ORDER BY revoked_at IS NOT NULL, created_at DESC, id"""
REVOKE_TOKEN = """
UPDATE api_tokens SET revoked_at = now()
WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"""
TOKEN_OWNED = "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $1 AND user_id = $2)"
REVOKE_ALL = "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
TOKEN_OWNER = "SELECT user_id FROM api_tokens WHERE id = $1"


def hash_token(token: str) -> bytes:
    # Tokens are 256-bit random values: a plain hash is enough, no key stretching needed.
    return hashlib.sha256(token.encode()).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_token() -> str:
    return TOKEN_PREFIX + new_secret()


class UserRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    # --- users -----------------------------------------------------------------------

    async def create_user(
        self,
        organisation_id: UUID,
        role: Role,
        name: str,
        *,
        email: str | None = None,
        status: UserStatus = UserStatus.ACTIVE,
        invited_by: UUID | None = None,
    ) -> UUID:
        """A user of an organisation, within the network-role rule (`role_refusal`); one
        user per address, whatever its case."""
        kind = await self.conn.fetchval(ORGANISATION_KIND, organisation_id)
        if kind is None:
            raise NotFound.of("Organisation")
        if (why := role_refusal(role, OrganisationKind(kind))) is not None:
            raise Forbidden(why)
        user_id = uuid4()
        try:
            await self.conn.execute(
                INSERT_USER, user_id, organisation_id, role, name, email, status, invited_by
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("Un compte existe déjà pour cette adresse de courriel.") from None
        return user_id

    async def row(self, user_id: UUID) -> UserRow | None:
        r = await self.conn.fetchrow(GET_ROW, user_id)
        return UserRow.model_validate(dict(r)) if r else None

    async def by_email(self, email: str) -> tuple[UserRow, str | None] | None:
        """The user with this address and their password hash (None when they set none)."""
        r = await self.conn.fetchrow(BY_EMAIL, email)
        if r is None:
            return None
        d = dict(r)
        password_hash = d.pop("password_hash")
        return UserRow.model_validate(d), password_hash

    async def list(self, organisation_id: UUID | None, limit: int = 500) -> list[UserRow]:
        rows = await self.conn.fetch(LIST_USERS, organisation_id, limit)
        return [UserRow.model_validate(dict(r)) for r in rows]

    async def get(self, user_id: UUID) -> UserPublic | None:
        row = await self.conn.fetchrow(GET_USER, user_id)
        return UserPublic.model_validate(dict(row)) if row else None

    async def activate(self, user_id: UUID) -> None:
        await self.conn.execute(SET_STATUS_ACTIVE, user_id)

    async def signed_in(self, user_id: UUID) -> None:
        await self.conn.execute(SIGNED_IN, user_id)

    async def disable(self, user_id: UUID) -> bool:
        return await self.conn.execute(DISABLE, user_id) == "UPDATE 1"

    async def set_name(self, user_id: UUID, name: str) -> None:
        await self.conn.execute(SET_NAME, user_id, name)

    async def set_notify(self, user_id: UUID, notify: NotifyPreference) -> None:
        await self.conn.execute(SET_NOTIFY, user_id, notify)

    async def password_hash(self, user_id: UUID) -> str | None:
        return await self.conn.fetchval(PASSWORD_HASH, user_id)

    async def set_password_hash(self, user_id: UUID, password_hash: str) -> None:
        await self.conn.execute(SET_PASSWORD, user_id, password_hash)

    # --- API tokens ------------------------------------------------------------------

    async def issue_token(
        self, user_id: UUID, name: str = "", *, expires_at: datetime | None = None
    ) -> str:
        token, _ = await self.create_token(user_id, name, expires_at=expires_at)
        return token

    async def create_token(
        self, user_id: UUID, name: str, *, expires_at: datetime | None
    ) -> tuple[str, ApiTokenPublic]:
        """A new token (the secret, shown once) and what is kept of it."""
        token = new_token()
        row = await self.conn.fetchrow(
            INSERT_TOKEN, uuid4(), hash_token(token), user_id, name, expires_at
        )
        if row is None:  # INSERT … RETURNING answers its row or raises
            raise RuntimeError("a token just inserted is gone")
        return token, ApiTokenPublic.model_validate(dict(row))

    async def principal_for_token(self, token: str) -> Principal | None:
        """The caller of an unexpired, unrevoked token of an active user; its last use is
        written at most once a minute."""
        row = await self.conn.fetchrow(PRINCIPAL, hash_token(token))
        if row is None:
            return None
        last = row["last_used_at"]
        if last is None or row["now"] - last >= TOUCH_EVERY:
            await self.conn.execute(TOKEN_USED, row["token_id"])
        return Principal(
            user_id=row["user_id"],
            organisation_id=row["organisation_id"],
            role=row["role"],
            name=row["name"],
        )

    async def tokens(self, user_id: UUID) -> builtins.list[ApiTokenPublic]:
        rows = await self.conn.fetch(LIST_TOKENS, user_id)
        return [ApiTokenPublic.model_validate(dict(r)) for r in rows]

    async def token_owned(self, token_id: UUID, user_id: UUID) -> bool:
        return await self.conn.fetchval(TOKEN_OWNED, token_id, user_id)

    async def token_owner(self, token_id: UUID) -> UUID | None:
        return await self.conn.fetchval(TOKEN_OWNER, token_id)

    async def revoke_token(self, token_id: UUID, user_id: UUID) -> bool:
        return await self.conn.execute(REVOKE_TOKEN, token_id, user_id) == "UPDATE 1"

    async def revoke_all_tokens(self, user_id: UUID) -> None:
        await self.conn.execute(REVOKE_ALL, user_id)
