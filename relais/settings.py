"""One settings class for every process, read from `RELAIS_*` variables (or `.env`)."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Published in the source, so only acceptable on a developer's machine.
DEV_PAYLOAD_KEY = base64.b64encode(b"relais-dev-payload-key-32-bytes!").decode()
DEV_DATA_KEY = base64.b64encode(b"relais-dev-data-at-rest-key-32b!").decode()


def _decode_key(value: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} must decode to 32 bytes (AES-256), got {len(raw)}")
    return raw


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
    db_pool_max: int = 10

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

    # Embedded stack only.
    dev_temporal_port: int = 7233
    dev_temporal_ui_port: int = 8233
    dev_smtp_port: int = 8025
    dev_metrics_port: int = 9464

    payload_key: SecretStr = SecretStr(DEV_PAYLOAD_KEY)
    data_key: SecretStr = SecretStr(DEV_DATA_KEY)

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
    def _key_is_aes256(cls, value: SecretStr, info) -> SecretStr:
        _decode_key(value.get_secret_value(), f"RELAIS_{info.field_name.upper()}")
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_dev(self) -> Self:
        if self.dev_mode:
            return self
        insecure = [
            name
            for name, default in (("payload_key", DEV_PAYLOAD_KEY), ("data_key", DEV_DATA_KEY))
            if getattr(self, name).get_secret_value() == default
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
    def payload_key_bytes(self) -> bytes:
        return _decode_key(self.payload_key.get_secret_value(), "RELAIS_PAYLOAD_KEY")

    @property
    def data_key_bytes(self) -> bytes:
        return _decode_key(self.data_key.get_secret_value(), "RELAIS_DATA_KEY")

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
