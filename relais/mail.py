"""Mail over SMTP: the message built from an outbox row, the sender, and the embedded
mailbox of `relais dev` (an SMTP server that files what it receives in a Maildir)."""

from __future__ import annotations

import hashlib
import mailbox
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_binary_file, policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib

from relais.settings import Settings


def message_id(dedup_key: str) -> str:
    """The same outbox row always carries the same Message-ID: if a crash ever made the
    sender send it twice, the receiving side can tell it is one message."""
    return f"<{hashlib.sha256(dedup_key.encode()).hexdigest()[:32]}@relais>"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_text(value: str) -> str:
    """A header value on one line: a name stored before names were checked (a CR/LF in an
    organisation's name) must neither break the mail nor add a header to it."""
    return " ".join(_CONTROL.sub(" ", value).split())


def build_message(
    sender: str, recipients: list[str], subject: str, body: str, dedup_key: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = header_text(sender)
    msg["To"] = ", ".join(header_text(r) for r in recipients)
    msg["Subject"] = header_text(subject)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id(dedup_key)
    msg.set_content(body)
    return msg


class PermanentMailError(Exception):
    """The server refused the message for good (unknown mailbox, policy): no retry."""


class MailConnection(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class MailTransport(Protocol):
    def connect(self) -> Any:
        """An async context manager giving a `MailConnection`."""


@dataclass
class _SmtpConnection:
    smtp: aiosmtplib.SMTP

    async def send(self, message: EmailMessage) -> None:
        try:
            await self.smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise PermanentMailError(str(err)) from err
        except aiosmtplib.SMTPResponseException as err:
            if 500 <= err.code < 600:
                raise PermanentMailError(f"{err.code} {err.message}") from err
            raise


class SmtpTransport:
    """One SMTP session per batch, to the host of the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def connect(self) -> _Session:
        s = self.settings
        return _Session(
            aiosmtplib.SMTP(
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_tls,
                timeout=s.smtp_timeout_s,
            )
        )


class _Session:
    def __init__(self, smtp: aiosmtplib.SMTP) -> None:
        self.smtp = smtp

    async def __aenter__(self) -> _SmtpConnection:
        await self.smtp.connect()
        return _SmtpConnection(self.smtp)

    async def __aexit__(self, *exc) -> None:
        if self.smtp.is_connected:
            try:
                await self.smtp.quit()
            except aiosmtplib.SMTPException:
                self.smtp.close()


# --- the embedded mailbox of `relais dev` ------------------------------------------------------


class MaildirHandler:
    """aiosmtpd handler: every message received is filed in a Maildir."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(path, create=True)  # with its tmp/, new/, cur/

    async def handle_DATA(self, server, session, envelope) -> str:
        self.box.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_dev_mailbox(path: Path, host: str, port: int):
    """An SMTP server on `host:port` filing into `path`; returns its controller (`.stop()`)."""
    from aiosmtpd.controller import Controller

    controller = Controller(MaildirHandler(path), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True)
class ReceivedMail:
    key: str
    sender: str
    to: str
    subject: str
    date: datetime | None
    message_id: str
    body: str


_DELIVERY = re.compile(r"^(\d+)\.M(\d+)P")


def _delivered(entry: os.DirEntry[str]) -> tuple[int, int]:
    """When a message was filed: a Maildir file's name starts with the delivery's seconds and
    microseconds (`<seconds>.M<microseconds>P…`, as `mailbox.Maildir` names them); the file's
    time for any other name."""
    m = _DELIVERY.match(entry.name)
    if m:
        return int(m.group(1)), int(m.group(2))
    mtime = entry.stat().st_mtime
    return int(mtime), int(mtime % 1 * 1e6)


def read_mailbox(path: Path, limit: int = 200) -> list[ReceivedMail]:
    """What the embedded mailbox received, newest first: the `limit` last delivered are read,
    not every message it holds."""
    if not path.exists():
        return []
    files: list[os.DirEntry[str]] = []
    for sub in ("new", "cur"):
        if (path / sub).is_dir():
            with os.scandir(path / sub) as entries:
                files += [e for e in entries if e.is_file()]
    files.sort(key=_delivered, reverse=True)
    out = []
    for entry in files[:limit]:
        key = entry.name.split(mailbox.Maildir.colon, 1)[0]
        with open(entry.path, "rb") as f:
            parsed = message_from_binary_file(f, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        try:
            date = parsed["Date"].datetime if parsed["Date"] else None
        except (AttributeError, TypeError, ValueError):
            date = None
        out.append(
            ReceivedMail(
                key=key,
                sender=parseaddr(str(parsed["From"] or ""))[1] or str(parsed["From"] or ""),
                to=str(parsed["To"] or ""),
                subject=str(parsed["Subject"] or ""),
                date=date,
                message_id=str(parsed["Message-ID"] or ""),
                body=body.get_content() if body else "",
            )
        )
    out.sort(key=lambda m: m.date or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out[:limit]
