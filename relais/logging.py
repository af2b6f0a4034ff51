"""structlog, configured once per process; stdlib loggers (uvicorn, temporalio) go through it."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
import structlog.typing

_configured = False

# What must never reach a log line, whatever logs it (uvicorn's access log included): the
# secret of a sign-in link in a URL, an API token, a session cookie's value.
_SECRETS = (
    (re.compile(r"(jeton=)[^&\s\"']+"), r"\1[masqué]"),
    (re.compile(r"\brl_[A-Za-z0-9_-]{16,}"), "rl_[masqué]"),
    (re.compile(r"(relais_(?:session|csrf)=)[^;\s\"']+"), r"\1[masqué]"),
)


def _scrub(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact_secrets(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: secrets masked in every string of the event."""
    return {k: _scrub(v) if isinstance(v, str) else v for k, v in event_dict.items()}


def configure_logging(*, json: bool, level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    # Tracebacks as the standard library prints them, in every mode: the console renderer's
    # default (rich or better-exceptions when installed) prints each frame's local
    # variables, a candidate's e-mail and name among them. JSON mode formats with
    # `format_exc_info`, which never shows locals either.
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    json_only: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, redact_secrets] if json else []
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *json_only,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Python warnings (a library's deprecation, a missing XDG_RUNTIME_DIR) as log lines too,
    # not bare text in the middle of a JSON stream.
    logging.captureWarnings(True)
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; route them through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # pgserver narrates every pg_ctl call at INFO.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
