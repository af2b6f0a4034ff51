"""One settings class for every process, read from `RELAIS_*` variables (or `.env`)."""

from __future__ import annotations

import base64
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.crypto import DEFAULT_KEY_ID, Key

# Published in the source, so only acceptable on a developer's machine.
DEV_PAYLOAD_KEY = base64.b64encode(b"relais-dev-payload-key-32-bytes!").decode()
DEV_DATA_KEY = base64.b64encode(b"relais-dev-data-at-rest-key-32b!").decode()


_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def _decode_key(value: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} must decode to 32 bytes (AES-256), got {len(raw)}")
    return raw


def parse_key_ring(value: str, name: str) -> tuple[Key, ...]:
    """`id:base64,id:base64,…`, newest first: the first key encrypts, every key decrypts
    what carries its id. A bare base64 key is `relais-1`, the id all data had before keys
    could rotate, so a deployment with one key keeps working unchanged."""
    ring: list[Key] = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            raise ValueError(f"{name}: empty entry (format id:base64,id:base64,…)")
        key_id, sep, encoded = entry.rpartition(":")
        if not sep:
            key_id, encoded = DEFAULT_KEY_ID, entry
        if not _KEY_ID.match(key_id):
            raise ValueError(f"{name}: key id {key_id!r} must be 1-40 of A-Z a-z 0-9 . _ -")
        ring.append(Key(key_id, _decode_key(encoded, f"{name} ({key_id})")))
    ids = [k.id for k in ring]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name}: two keys share an id ({', '.join(ids)})")
    if len({k.secret for k in ring}) != len(ring):
        raise ValueError(f"{name}: the same key is listed twice")
    return tuple(ring)


class Settings(BaseSettings):
    """Everything a Relais process needs to know about where it runs.

    `dev_mode` is set by `relais dev` and the tests; outside it the published development
    keys are refused, so a real deployment cannot start with them by accident.
    """

    model_config = SettingsConfigDict(env_prefix="RELAIS_", env_file=".env", extra="ignore")

    dev_mode: bool = False
    home: Path = Path(".relais")

    database_url: str = Field(default="", description="postgresql://… ; empty in dev mode")
    db_pool_min: int = 1
    # An API request holds one connection until it answers, an act while its workflow
    # answers too: 10 let ten acts waiting on their pools queue every other request.
    db_pool_max: int = 20

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: SecretStr | None = None
    task_queue: str = "relais"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str = ""

    # Mail: the outbox is sent over SMTP (in dev mode, to the embedded mailbox).
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_s: float = 20
    mail_from: str = "Relais <ne-pas-repondre@relais.local>"
    mail_max_attempts: int = Field(default=8, ge=1, le=50)
    mail_poll_seconds: float = Field(default=5, ge=0.5, le=3600)

    # Prometheus: the Temporal runtime's exporter (worker and client metrics, and Relais'
    # own counters) listens here; the API's /metrics serves what it exports.
    metrics_address: str | None = None

    # `relais worker` writes its heartbeat here; `relais health --worker` reads it.
    worker_health_file: Path = Path(tempfile.gettempdir()) / "relais-worker.health"

    # The Temporal Web UI's origin (e.g. https://temporal.example.fr), allowed to call the
    # codec endpoint from the browser with the admin's session cookie; comma-separated.
    codec_cors_origins: str = ""

    # Embedded stack only.
    dev_temporal_port: int = 7233
    dev_temporal_ui_port: int = 8233
    dev_smtp_port: int = 8025
    dev_metrics_port: int = 9464

    payload_key: SecretStr = SecretStr(DEV_PAYLOAD_KEY)
    data_key: SecretStr = SecretStr(DEV_DATA_KEY)

    # Rate limits on what costs most or says most (issue 18): per person and per client.
    rate_referrals_per_hour: int = Field(default=300, ge=1)
    rate_reports_per_10min: int = Field(default=60, ge=1)
    rate_snapshots_per_10min: int = Field(default=20, ge=1)
    rate_per_client_factor: int = Field(default=5, ge=1)

    candidate_retention_months: int = Field(default=6, ge=1, le=120)

    # People: a session ends after this long without a page, or this long after sign-in;
    # the daily digest of overdue tasks goes out at this hour (local time of `time_zone`).
    session_idle_minutes: int = Field(default=480, ge=5, le=10_080)
    session_max_hours: int = Field(default=168, ge=1, le=2_160)
    digest_hour: int = Field(default=7, ge=0, le=23)
    time_zone: str = "Europe/Paris"

    log_json: bool | None = None
    log_level: str = "INFO"

    @field_validator("payload_key", "data_key")
    @classmethod
    def _keys_are_aes256(cls, value: SecretStr, info) -> SecretStr:
        parse_key_ring(value.get_secret_value(), f"RELAIS_{info.field_name.upper()}")
        return value

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # Compose passes an unset optional variable as "": no login then.
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_dev(self) -> Self:
        if self.dev_mode:
            return self
        # Compared as bytes: another spelling of the same key (base64's padding bits) is the
        # same published key.
        published = {_decode_key(DEV_PAYLOAD_KEY, "dev"), _decode_key(DEV_DATA_KEY, "dev")}
        insecure = [
            name
            for name, ring in (("payload_key", self.payload_keys), ("data_key", self.data_keys))
            if any(k.secret in published for k in ring)
        ]
        if insecure:
            names = ", ".join(f"RELAIS_{n.upper()}" for n in insecure)
            raise ValueError(
                f"{names} still hold the published development value; set real keys "
                "(32 random bytes, base64) or run in dev mode"
            )
        if not self.database_url:
            raise ValueError("RELAIS_DATABASE_URL is required outside dev mode")
        return self

    @property
    def payload_keys(self) -> tuple[Key, ...]:
        """Temporal payloads: the first encrypts; all decrypt (histories stay readable)."""
        return parse_key_ring(self.payload_key.get_secret_value(), "RELAIS_PAYLOAD_KEY")

    @property
    def data_keys(self) -> tuple[Key, ...]:
        """Personal data at rest: the first seals; all open (`relais rekey` re-seals)."""
        return parse_key_ring(self.data_key.get_secret_value(), "RELAIS_DATA_KEY")

    @property
    def payload_key_bytes(self) -> bytes:
        return self.payload_keys[0].secret

    @property
    def data_key_bytes(self) -> bytes:
        """The current data key (pseudonyms are derived from it)."""
        return self.data_keys[0].secret

    @property
    def json_logs(self) -> bool:
        return (not self.dev_mode) if self.log_json is None else self.log_json

    @property
    def mailbox_dir(self) -> Path:
        """Where the embedded SMTP server of `relais dev` files what it receives."""
        return self.home / "mailbox"

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_max_hours)

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies with the `__Host-` prefix, everywhere but on a developer's machine
        (plain http on 127.0.0.1)."""
        return not self.dev_mode

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"
