"""`relais` command line: dev stack, worker, API, migrations, organisations, users, tokens,
key rotation, health checks."""

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
    from store.users import UserRepository

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
                    Sealer(settings.data_keys),
                    settings.base_url,
                    organisation_id=org.id,
                    role=Role(args.role),
                    name=args.name,
                    email=normalise_email(args.email),
                    invited_by=None,
                    inviter=None,
                )
                if args.active:  # the operator vouches for the address (a first admin)
                    await UserRepository(conn).activate(invited.user_id)
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
    u = sub.add_parser("user", help="utilisateurs")
    usub = u.add_subparsers(dest="user_command", required=True)
    i = usub.add_parser("invite", help="invite une personne (courriel avec un lien d'activation)")
    i.add_argument("--org", required=True, help="id ou SIRET de l'organisation")
    i.add_argument("--role", required=True, choices=[r.value for r in Role])
    i.add_argument("--email", required=True, help="adresse de courriel de la personne")
    i.add_argument("--name", required=True, help="nom de la personne")
    i.add_argument(
        "--active",
        action="store_true",
        help="compte actif tout de suite (le premier administrateur d'un déploiement vide : "
        "l'opérateur répond de l'adresse) ; le courriel d'invitation part quand même",
    )
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
    if args.command == "organisation":
        return asyncio.run(_organisation_create(args))
    if args.command == "rekey":
        return asyncio.run(_rekey(args))
    if args.command == "health":
        return _health(args)
    if args.command == "user":
        return asyncio.run(_user_invite(args))
    if args.token_command == "revoke":  # noqa: S105 (a sub-command)
        return asyncio.run(_token_revoke(args))
    return asyncio.run(_token_create(args))


if __name__ == "__main__":
    sys.exit(main())
