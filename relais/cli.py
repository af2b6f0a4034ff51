"""`relais` command line: dev stack, worker, API, migrations, tokens."""

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


async def _token_create(args) -> int:
    import asyncpg

    from domain.common import no_line_breaks
    from store.organisations import OrganisationRepository
    from store.users import UserRepository

    if args.name is not None:
        try:
            no_line_breaks(args.name)
        except ValueError as err:
            print(f"nom invalide : {err}", file=sys.stderr)
            return 2
    settings = _admin_settings(args)
    conn = await asyncpg.connect(await _database_url(settings))
    try:
        orgs = OrganisationRepository(conn)
        try:
            org = await orgs.get(UUID(args.org))
        except ValueError:
            org = await orgs.get_by_siret(args.org.replace(" ", ""))
        if org is None:
            print(f"organisation introuvable : {args.org} (id ou SIRET)", file=sys.stderr)
            return 2
        async with conn.transaction():
            users = UserRepository(conn)
            name = args.name or f"{org.name} ({args.role})"
            user_id = await users.create_user(org.id, Role(args.role), name)
            token = await users.issue_token(user_id, args.label)
    finally:
        await conn.close()
    print(f"utilisateur {name} ({args.role}) de {org.name}")
    print(token)
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
    from relais.shutdown import REQUEST_GRACE_S

    settings = _settings(False)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        timeout_graceful_shutdown=REQUEST_GRACE_S,
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
    t = sub.add_parser("token", help="jetons d'API")
    tsub = t.add_subparsers(dest="token_command", required=True)
    c = tsub.add_parser("create", help="crée un utilisateur et son jeton")
    c.add_argument("--org", required=True, help="id ou SIRET de l'organisation")
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--name", help="nom de la personne (par défaut : l'organisation et le rôle)")
    c.add_argument("--label", default="cli")
    c.add_argument("--dev", action="store_true", help="sur la base embarquée (.relais/)")
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
    return asyncio.run(_token_create(args))


if __name__ == "__main__":
    sys.exit(main())
