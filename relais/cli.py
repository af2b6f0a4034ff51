"""`relais` command line: dev stack, worker, API, migrations, users, tokens."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from uuid import UUID

from domain.auth import Role


def _settings(dev: bool):
    from relais.settings import Settings

    return Settings(dev_mode=True) if dev else Settings()


def _admin_settings(args):
    """Admin commands need only the database: without RELAIS_DATABASE_URL they act on the
    embedded stack (.relais/), as `--dev` says explicitly."""
    return _settings(args.dev or not os.environ.get("RELAIS_DATABASE_URL"))


async def _database_url(settings) -> str:
    if settings.database_url:
        return settings.database_url
    from worker.dev import dev_database_url

    return await dev_database_url(settings)


async def _organisation(conn, ref: str):
    from store.organisations import OrganisationRepository

    orgs = OrganisationRepository(conn)
    try:
        return await orgs.get(UUID(ref))
    except ValueError:
        return await orgs.get_by_siret(ref.replace(" ", ""))


async def _user_invite(args) -> int:
    """`relais user invite`: the same invitation as the web's (user, one-time link, mail
    through the outbox), within the network-role rule."""
    import asyncpg

    from domain.errors import DomainError
    from domain.people import normalise_email
    from store.crypto import Sealer
    from store.people import invite
    from store.pool import _init_connection

    settings = _admin_settings(args)
    conn = await asyncpg.connect(await _database_url(settings))
    await _init_connection(conn)  # jsonb as the pool has it (the audit event's data)
    try:
        org = await _organisation(conn, args.org)
        if org is None:
            print(f"organisation introuvable : {args.org} (id ou SIRET)", file=sys.stderr)
            return 2
        try:
            async with conn.transaction():
                invited = await invite(
                    conn,
                    Sealer(settings.data_key_bytes),
                    settings.base_url,
                    organisation_id=org.id,
                    role=Role(args.role),
                    name=args.name,
                    email=normalise_email(args.email),
                    invited_by=None,
                    inviter=None,
                )
        except DomainError as err:
            print(err.message, file=sys.stderr)
            return 2
    finally:
        await conn.close()
    print(
        f"invitation envoyée à {invited.email} ({args.role}, {org.name}), valable jusqu'au "
        f"{invited.link_expires_at:%d/%m/%Y %H:%M} UTC"
    )
    return 0


async def _token_create(args) -> int:
    """`relais token create`: an API token for an existing, active user, named, expiring."""
    from datetime import UTC, datetime, timedelta

    import asyncpg

    from domain.organisations import OrganisationKind
    from domain.people import UserStatus, normalise_email, role_refusal
    from store.users import UserRepository

    settings = _admin_settings(args)
    conn = await asyncpg.connect(await _database_url(settings))
    try:
        users = UserRepository(conn)
        found = await users.by_email(normalise_email(args.email))
        if found is None:
            print(f"aucun utilisateur pour l'adresse {args.email}", file=sys.stderr)
            return 2
        user = found[0]
        if user.status != UserStatus.ACTIVE:
            print(f"le compte de {user.name} n'est pas actif ({user.status})", file=sys.stderr)
            return 2
        refusal = role_refusal(user.role, OrganisationKind(user.organisation_kind))
        if refusal is not None:
            print(refusal, file=sys.stderr)
            return 2
        expires_at = datetime.now(UTC) + timedelta(days=args.expires_days)
        token, public = await users.create_token(user.id, args.name, expires_at=expires_at)
    finally:
        await conn.close()
    print(
        f"jeton « {public.name} » de {user.name} ({user.role}, {user.organisation_name}), "
        f"expire le {expires_at:%d/%m/%Y} ; id {public.id}"
    )
    print(token)
    return 0


async def _token_revoke(args) -> int:
    import asyncpg

    from store.users import UserRepository

    settings = _admin_settings(args)
    conn = await asyncpg.connect(await _database_url(settings))
    try:
        users = UserRepository(conn)
        owner = await users.token_owner(UUID(args.id))
        if owner is None or not await users.revoke_token(UUID(args.id), owner):
            print(f"aucun jeton actif d'id {args.id}", file=sys.stderr)
            return 2
    finally:
        await conn.close()
    print(f"jeton {args.id} révoqué")
    return 0


async def _migrate(args) -> int:
    from store.migrate import migrate_dsn

    settings = _admin_settings(args)
    applied = await migrate_dsn(await _database_url(settings))
    print(f"migrations appliquées : {applied or 'aucune (à jour)'}")
    return 0


def _api(args) -> int:
    import uvicorn

    from api.app import create_app

    settings = _settings(False)
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relais", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="tout le système sur la machine (Postgres, Temporal, worker, API)")
    sub.add_parser("worker", help="le worker Temporal (déploiement)")
    sub.add_parser("api", help="l'API et le tableau de bord (déploiement)")
    m = sub.add_parser("migrate", help="applique les migrations SQL")
    m.add_argument("--dev", action="store_true", help="sur la base embarquée (.relais/)")
    u = sub.add_parser("user", help="utilisateurs")
    usub = u.add_subparsers(dest="user_command", required=True)
    i = usub.add_parser("invite", help="invite une personne (courriel avec un lien d'activation)")
    i.add_argument("--org", required=True, help="id ou SIRET de l'organisation")
    i.add_argument("--role", required=True, choices=[r.value for r in Role])
    i.add_argument("--email", required=True, help="adresse de courriel de la personne")
    i.add_argument("--name", required=True, help="nom de la personne")
    i.add_argument("--dev", action="store_true", help="sur la base embarquée (.relais/)")
    t = sub.add_parser("token", help="jetons d'API")
    tsub = t.add_subparsers(dest="token_command", required=True)
    c = tsub.add_parser("create", help="crée un jeton d'API pour un utilisateur existant")
    c.add_argument("--email", required=True, help="adresse de l'utilisateur (compte actif)")
    c.add_argument("--name", required=True, help="nom du jeton (le logiciel qui s'en sert)")
    c.add_argument("--expires-days", type=int, default=90, choices=range(1, 367), metavar="1-366")
    c.add_argument("--dev", action="store_true", help="sur la base embarquée (.relais/)")
    r = tsub.add_parser("revoke", help="révoque un jeton d'API")
    r.add_argument("id", help="id du jeton (affiché à sa création et sur « Mon compte »)")
    r.add_argument("--dev", action="store_true", help="sur la base embarquée (.relais/)")
    args = parser.parse_args(argv)

    if args.command == "dev":
        from worker.dev import run_dev

        asyncio.run(run_dev(_settings(True)))
        return 0
    if args.command == "worker":
        from worker.main import run_worker

        asyncio.run(run_worker(_settings(False)))
        return 0
    if args.command == "api":
        return _api(args)
    if args.command == "migrate":
        return asyncio.run(_migrate(args))
    if args.command == "user":
        return asyncio.run(_user_invite(args))
    if args.token_command == "revoke":  # noqa: S105 (a sub-command)
        return asyncio.run(_token_revoke(args))
    return asyncio.run(_token_create(args))


if __name__ == "__main__":
    sys.exit(main())
