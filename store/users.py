"""Users and their API tokens (only a hash of each token is stored)."""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID, uuid4

from domain.auth import Principal, Role, UserPublic
from store.pool import Conn

TOKEN_PREFIX = "rl_"

INSERT_USER = "INSERT INTO users (id, organisation_id, role, name) VALUES ($1, $2, $3, $4)"
INSERT_TOKEN = "INSERT INTO api_tokens (token_hash, user_id, label) VALUES ($1, $2, $3)"
PRINCIPAL = """
SELECT u.id AS user_id, u.organisation_id, u.role, u.name
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL"""
GET_USER = """
SELECT u.id, u.organisation_id, o.name AS organisation_name, u.role, u.name
FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = $1"""


def hash_token(token: str) -> bytes:
    # Tokens are 256-bit random values: a plain hash is enough, no key stretching needed.
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class UserRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def create_user(self, organisation_id: UUID, role: Role, name: str) -> UUID:
        user_id = uuid4()
        await self.conn.execute(INSERT_USER, user_id, organisation_id, role, name)
        return user_id

    async def issue_token(self, user_id: UUID, label: str = "") -> str:
        token = new_token()
        await self.conn.execute(INSERT_TOKEN, hash_token(token), user_id, label)
        return token

    async def principal_for_token(self, token: str) -> Principal | None:
        row = await self.conn.fetchrow(PRINCIPAL, hash_token(token))
        return Principal.model_validate(dict(row)) if row else None

    async def get(self, user_id: UUID) -> UserPublic | None:
        row = await self.conn.fetchrow(GET_USER, user_id)
        return UserPublic.model_validate(dict(row)) if row else None
