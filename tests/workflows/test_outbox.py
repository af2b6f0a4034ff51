"""The outbox sender against a real SMTP server run here (aiosmtpd stands for the mail
provider): each mail once, retries while the server is away, refusals given up at once,
and the relay workflow on the dev server."""

from __future__ import annotations

import asyncio
import mailbox
import uuid

import pytest
from aiosmtpd.controller import Controller
from temporalio.testing import ActivityEnvironment

from activities.mail import MailActivities, retry_delay
from activities.recruitment import org_recipient
from domain.processes import OutboxBatch, OutboxMessage, OutboxRelayInput
from relais.mail import MaildirHandler, SmtpTransport, message_id, read_mailbox
from store.processes import ProcessRepository
from tests.factories import make_org
from tests.system.conftest import free_port
from tests.workflows.test_onboarding import _record
from worker.main import build_worker
from workflows.outbox import OutboxRelayWorkflow


class RefusingHandler(MaildirHandler):
    """A provider that refuses one mailbox for good."""

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("inconnu@"):
            return "550 5.1.1 mailbox unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp(tmp_path):
    port = free_port()
    box = tmp_path / "mailbox"
    controller = Controller(RefusingHandler(box), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


def sender(db, settings, port: int) -> MailActivities:
    s = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    return MailActivities(db, s, SmtpTransport(s))


async def queue(db, key: str, recipient: str, subject: str = "Bonjour") -> None:
    async with db.acquire() as c:
        await ProcessRepository(c).enqueue(
            OutboxMessage(dedup_key=key, recipient=recipient, subject=subject, body="Corps.")
        )


async def test_each_mail_goes_once_even_with_two_senders(db, settings, smtp):
    port, box = smtp
    with_mail = await make_org(db, name="Boulangerie du Canet")
    await db.execute(
        "UPDATE organisations SET email = 'contact@boulangerie.fr' WHERE id = $1", with_mail.id
    )
    no_mail = await make_org(db, name="Menuiserie Castel")
    await queue(db, "k1", org_recipient(with_mail.id), "Devis disponible")
    await queue(db, "k2", "rh@agence-nord.fr", "Offre relayée")
    await queue(db, "k3", org_recipient(no_mail.id))
    # A retried enqueue queues nothing more.
    await queue(db, "k1", org_recipient(with_mail.id), "Devis disponible")

    mail = sender(db, settings, port)
    env = ActivityEnvironment()
    first, second = await asyncio.gather(
        env.run(mail.send_due, OutboxBatch(limit=10)), env.run(mail.send_due, OutboxBatch())
    )
    assert first.sent + second.sent == 2 and first.failed + second.failed == 1
    received = read_mailbox(box)
    assert sorted(m.to for m in received) == ["contact@boulangerie.fr", "rh@agence-nord.fr"]
    devis = next(m for m in received if m.subject == "Devis disponible")
    assert devis.message_id == message_id("k1") and devis.body.strip() == "Corps."

    rows = {r["dedup_key"]: r for r in await db.fetch("SELECT * FROM outbox")}
    assert rows["k1"]["recipients"] == ["contact@boulangerie.fr"] and rows["k1"]["sent_at"]
    assert rows["k3"]["failed_at"] and "aucune adresse" in rows["k3"]["last_error"]
    # Nothing is due any more: a later run (or an activity retry) sends nothing again.
    again = await env.run(mail.send_due, OutboxBatch())
    assert (again.sent, again.failed, again.next_due_in) == (0, 0, None)
    assert len(read_mailbox(box)) == 2


async def test_an_unreachable_server_means_later_and_a_refusal_means_never(db, settings, smtp):
    port, box = smtp
    await queue(db, "later", "compta@cabinet-durand.fr")
    env = ActivityEnvironment()
    down = sender(db, settings, free_port())  # nobody listens there
    out = await env.run(down.send_due, OutboxBatch())
    assert (out.sent, out.retried) == (0, 1)
    row = await db.fetchrow("SELECT * FROM outbox WHERE dedup_key = 'later'")
    assert row["attempts"] == 1 and row["sent_at"] is None and row["failed_at"] is None
    assert "Connect" in row["last_error"] or "refused" in row["last_error"].lower()
    assert 50 < out.next_due_in <= retry_delay(1)
    # Not due yet: the next run leaves it alone.
    up = sender(db, settings, port)
    assert (await env.run(up.send_due, OutboxBatch())).sent == 0
    # The delay elapses (moved in the store: the clock is not what is tested here).
    await db.execute("UPDATE outbox SET next_attempt_at = now() WHERE dedup_key = 'later'")
    assert (await env.run(up.send_due, OutboxBatch())).sent == 1
    assert [m.to for m in read_mailbox(box)] == ["compta@cabinet-durand.fr"]

    await queue(db, "never", "inconnu@exemple.fr")
    out = await env.run(up.send_due, OutboxBatch())
    assert (out.sent, out.failed, out.retried) == (0, 1, 0)
    row = await db.fetchrow("SELECT * FROM outbox WHERE dedup_key = 'never'")
    assert row["failed_at"] and "550" in row["last_error"]
    # The last try of a mail that keeps failing gives it up.
    await queue(db, "tired", "rh@agence-nord.fr")
    await db.execute("UPDATE outbox SET attempts = 7 WHERE dedup_key = 'tired'")
    out = await env.run(down.send_due, OutboxBatch())
    assert out.failed == 1
    assert await db.fetchval("SELECT failed_at IS NOT NULL FROM outbox WHERE dedup_key = 'tired'")


async def test_the_relay_workflow_sends_what_is_queued(db, settings, smtp, dev_env):
    port, box = smtp
    s = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    async with build_worker(dev_env.client, db, s):
        handle = await dev_env.client.start_workflow(
            OutboxRelayWorkflow.run,
            OutboxRelayInput(poll_seconds=30, rounds_per_run=3),
            id=f"outbox-relay-{uuid.uuid4().hex[:6]}",
            task_queue=s.task_queue,
        )
        await queue(db, "relay-1", "rh@agence-nord.fr", "Première")
        await handle.signal(OutboxRelayWorkflow.wake)  # sooner than the 30 s poll
        for _ in range(100):
            if read_mailbox(box):
                break
            await asyncio.sleep(0.1)
        assert [m.subject for m in read_mailbox(box)] == ["Première"]
        # A few rounds later it has continued as new and still sends.
        for n in range(3):
            await queue(db, f"relay-{n + 2}", "rh@agence-nord.fr", f"Suite {n}")
            await handle.signal(OutboxRelayWorkflow.wake)
            await asyncio.sleep(0.3)
        for _ in range(100):
            if len(read_mailbox(box)) == 4:
                break
            await asyncio.sleep(0.1)
        assert len(read_mailbox(box)) == 4
        described = await dev_env.client.get_workflow_handle(handle.id).describe()
        assert described.run_id != handle.result_run_id  # continued as new
        await _record(handle, "outbox_relay_continued")  # the first run, closed by then
        await dev_env.client.get_workflow_handle(handle.id).terminate("fin du test")


async def test_a_mail_about_an_organisation_with_an_old_bad_name_still_goes_out(db, settings, smtp):
    """Names are checked now, but a name stored before (CR/LF in it) must not make every
    mail about that organisation fail, nor add a header to it."""
    port, box = smtp
    agency = await make_org(db, name="Agence Nord")
    await db.execute(
        "UPDATE organisations SET name = $2, email = 'rh@agence-nord.fr' WHERE id = $1",
        agency.id,
        "Agence Nord\r\nBcc: fuite@evil.example",
    )
    name = await db.fetchval("SELECT name FROM organisations WHERE id = $1", agency.id)
    await queue(db, "bad-name", org_recipient(agency.id), f"Offre relayée : Caristes ({name})")

    sent = await ActivityEnvironment().run(
        sender(db, settings, port).send_due, OutboxBatch(limit=10)
    )
    assert (sent.sent, sent.failed, sent.retried) == (1, 0, 0)
    [mail] = read_mailbox(box)
    assert mail.to == "rh@agence-nord.fr"
    assert mail.subject == "Offre relayée : Caristes (Agence Nord Bcc: fuite@evil.example)"
    raw = next(iter(mailbox.Maildir(box, create=False))).as_bytes()
    assert b"\nBcc:" not in raw and b"fuite@evil.example>" not in raw
