"""`relais` command line: dev stack, worker, API, migrations, organisations, tokens, key
rotation, health checks."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from uuid import UUID

from domain.auth import Role


def _kinds():
    from domain.organisations import OrganisationKind

    return list(OrganisationKind)


def _settings(dev: bool):
    from relais.settings import Settings

    return Settings(dev_mode=True) if dev else Settings()


def _admin_settings(args):
    """Admin commands need only the database: without RELAIS_DATABASE_URL they act on the
    embedded stack (.relais/), as `--dev` says explicitly. Their logs are the process's
    like any other's (JSON in a deployment)."""
    from relais.logging import configure_logging

    settings = _settings(args.dev or not os.environ.get("RELAIS_DATABASE_URL"))
    configure_logging(json=settings.json_logs, level=settings.log_level)
    return settings


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


async def _organisation_create(args) -> int:
    """The first organisation of an empty deployment (the network itself), before anyone
    can sign in to create the others."""
    import asyncpg
    from pydantic import ValidationError

    from domain.organisations import OrganisationCreate, OrganisationKind
    from store.organisations import OrganisationRepository

    try:
        data = OrganisationCreate(
            kind=OrganisationKind(args.kind),
            name=args.name,
            siret=args.siret,
            postcode=args.postcode,
            territory=args.territory,
            email=args.email,
        )
    except ValidationError as err:
        print(f"organisation refusée : {err.errors()[0]['msg']}", file=sys.stderr)
        return 2
    settings = _admin_settings(args)
    conn = await asyncpg.connect(await _database_url(settings))
    try:
        async with conn.transaction():
            repo = OrganisationRepository(conn)
            existing = await repo.get_by_siret(data.siret)
            org = existing or await repo.create(data)
    finally:
        await conn.close()
    print(f"organisation {org.name} ({org.kind.value}){' — déjà là' if existing else ''}")
    print(org.id)
    return 0


async def _rekey(args) -> int:
    from store.crypto import Sealer
    from store.pool import create_pool
    from store.rekey import rekey

    settings = _admin_settings(args)
    pool = await create_pool(await _database_url(settings), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            report = await rekey(conn, Sealer(settings.data_keys), batch=args.batch)
    finally:
        await pool.close()
    print(
        f"clé {report.key_id} : {report.resealed} données re-chiffrées, "
        f"{report.read - report.resealed - len(report.unreadable)} déjà à jour"
    )
    if report.rehash_conflicts:
        print(f"{len(report.rehash_conflicts)} empreintes laissées sous l'ancienne clé (doublons)")
    if report.unreadable:
        ids = ", ".join(str(i) for i in report.unreadable[:5])
        print(
            f"{len(report.unreadable)} données illisibles avec les clés de RELAIS_DATA_KEY "
            f"(ex. {ids}) : ajoutez la clé qui les a chiffrées",
            file=sys.stderr,
        )
        return 1
    return 0


def _health(args) -> int:
    """For container healthchecks: exit 0 when healthy, 1 with a French reason otherwise."""
    if args.worker:
        from worker.health import check_heartbeat

        problem = check_heartbeat(_settings(False).worker_health_file)
    else:
        import urllib.error
        import urllib.request

        settings = _settings(False)
        path = "/health/live" if args.live else "/health/ready"
        url = f"http://127.0.0.1:{settings.api_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=args.timeout) as r:
                problem = None if r.status == 200 else f"{url} répond {r.status}"
        except urllib.error.HTTPError as err:
            problem = f"{url} répond {err.code} : {err.read().decode(errors='replace')[:300]}"
        except OSError as err:
            problem = f"{url} injoignable : {err}"
    if problem:
        print(problem, file=sys.stderr)
        return 1
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
    o = sub.add_parser("organisation", help="organisations (la première d'un déploiement)")
    osub = o.add_subparsers(dest="organisation_command", required=True)
    oc = osub.add_parser("create", help="crée une organisation (rien si le SIRET existe déjà)")
    oc.add_argument("--kind", required=True, choices=[k.value for k in _kinds()])
    oc.add_argument("--name", required=True)
    oc.add_argument("--siret", required=True)
    oc.add_argument("--postcode", required=True)
    oc.add_argument("--territory")
    oc.add_argument("--email")
    oc.add_argument("--dev", action="store_true", help="sur la base embarquée (.relais/)")
    r = sub.add_parser("rekey", help="re-chiffre les données personnelles avec la clé courante")
    r.add_argument("--batch", type=int, default=200, help="lignes par transaction")
    r.add_argument("--dev", action="store_true", help="sur la base embarquée (.relais/)")
    h = sub.add_parser("health", help="contrôle de santé (pour les conteneurs)")
    what = h.add_mutually_exclusive_group()
    what.add_argument("--live", action="store_true", help="l'API répond (sans dépendances)")
    what.add_argument("--worker", action="store_true", help="le worker bat (Postgres, Temporal)")
    h.add_argument("--timeout", type=float, default=5)
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
    if args.command == "organisation":
        return asyncio.run(_organisation_create(args))
    if args.command == "rekey":
        return asyncio.run(_rekey(args))
    if args.command == "health":
        return _health(args)
    return asyncio.run(_token_create(args))


if __name__ == "__main__":
    sys.exit(main())
