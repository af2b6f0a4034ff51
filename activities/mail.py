"""The outbox sender: mails queued by workflows go out over SMTP, each once."""

from __future__ import annotations

import re
import time
from uuid import UUID

import asyncpg
from temporalio import activity

from domain.processes import OutboxBatch, OutboxSent
from relais.mail import MailTransport, PermanentMailError, build_message
from relais.settings import Settings
from store.crypto import Sealer
from store.pool import Conn
from store.processes import ClaimedMail, ProcessRepository

# A claimed mail is left alone by other senders for this long: longer than the activity's
# start-to-close timeout (2 min), and a batch stops sending after BATCH_SECONDS, releasing
# what it did not try, so that a retried activity never re-claims a mail still being sent.
LEASE_SECONDS = 300
BATCH_SECONDS = 80
_ORG = re.compile(r"^org:([0-9a-f-]{36})$")


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 1 min, 2, 4 … up to 1 h."""
    return float(min(60 * 2 ** max(attempts - 1, 0), 3600))


class MailActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, transport: MailTransport) -> None:
        self.pool = pool
        self.settings = settings
        self.transport = transport
        self.sealer = Sealer(settings.data_keys)

    async def _recipients(self, c: Conn, recipient: str) -> list[str]:
        """`org:<id>` is the organisation's address in the directory; anything else is an
        address already."""
        m = _ORG.match(recipient)
        if not m:
            return [recipient]
        email = await ProcessRepository(c).organisation_email(UUID(m.group(1)))
        return [email] if email else []

    @activity.defn
    async def send_due(self, batch: OutboxBatch) -> OutboxSent:
        """Send the mails that are due, at most `batch.limit`. Each is claimed first (no two
        senders send the same), marked sent as soon as the server took it, retried later
        with a growing delay when the server is unreachable, and given up when refused for
        good or after `mail_max_attempts` tries."""
        meter = activity.metric_meter()
        counters = {
            k: meter.create_counter(f"relais_mails_{k}", "mails", f"Outbox mails {k}")
            for k in ("sent", "retried", "failed")
        }
        out = OutboxSent()
        async with self.pool.acquire() as c:
            repo = ProcessRepository(c)
            claimed = await repo.claim_due_mail(batch.limit, LEASE_SECONDS)
            if claimed:
                out = await self._send(c, repo, claimed)
            out.next_due_in = await repo.next_mail_due_in()
        for k in ("sent", "retried", "failed"):
            if n := getattr(out, k):
                counters[k].add(n)
        if claimed:
            activity.logger.info(
                "outbox batch",
                extra={"sent": out.sent, "retried": out.retried, "failed": out.failed},
            )
        return out

    def _body(self, row: ClaimedMail) -> str:
        """The body to send: a mail carrying a secret keeps it sealed until now."""
        if row.sealed_body is None:
            return row.body
        return self.sealer.open(row.sealed_body, row.dedup_key)

    async def _send(
        self, c: Conn, repo: ProcessRepository, claimed: list[ClaimedMail]
    ) -> OutboxSent:
        out = OutboxSent()
        done: set[UUID] = set()  # sent, or settled for this batch

        async def retry_or_fail(row: ClaimedMail, error: str) -> None:
            done.add(row.id)
            if row.attempts + 1 >= self.settings.mail_max_attempts:
                await repo.mail_failed(row.id, error)
                out.failed += 1
            else:
                await repo.mail_retry(row.id, error, retry_delay(row.attempts + 1))
                out.retried += 1

        started = time.monotonic()
        try:
            async with self.transport.connect() as smtp:
                for row in claimed:
                    if time.monotonic() - started > BATCH_SECONDS:
                        break  # the rest is released below, for the next batch
                    activity.heartbeat()
                    try:
                        to = await self._recipients(c, row.recipient)
                        if not to:
                            raise PermanentMailError("aucune adresse de courriel connue")
                        msg = build_message(
                            self.settings.mail_from,
                            to,
                            row.subject,
                            self._body(row),
                            row.dedup_key,
                        )
                        await smtp.send(msg)
                    except PermanentMailError as err:
                        done.add(row.id)
                        await repo.mail_failed(row.id, str(err)[:500])
                        out.failed += 1
                        continue
                    except Exception as err:
                        # Anything else (this row's data, the session dropping) is worth a retry.
                        await retry_or_fail(row, _describe(err))
                        continue
                    await repo.mail_sent(row.id, to)
                    done.add(row.id)
                    out.sent += 1
        except Exception as err:
            # No session could be had (or closing it failed): the rest waits for a later try.
            for row in claimed:
                if row.id not in done:
                    await retry_or_fail(row, _describe(err))
        await repo.mail_release([r.id for r in claimed if r.id not in done])
        return out


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:500]
