"""docker-compose.yml read as `docker compose` reads it (YAML anchors and merge keys, then
`${VAR}` interpolation), for the tests that cannot run Docker: the unit checks of the file
and the production rehearsal, which starts its services from what is written here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "docker-compose.yml"
TEXT = FILE.read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a "$".
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


class MissingVariable(Exception):
    """Compose would refuse to start: a required variable is unset (or empty)."""


def interpolate(value: str, variables: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        present = name in variables
        empty = present and variables[name] == ""
        if op is None:
            return variables.get(name, "")
        if op in (":-", "-"):
            return arg if (not present or (op == ":-" and empty)) else variables[name]
        if not present or (op == ":?" and empty):
            raise MissingVariable(f"{name}: {arg}")
        return variables[name]

    return _VARIABLE.sub(one, value)


def variables_used(value: str) -> list[tuple[str, str | None]]:
    """Each `${NAME…}` in `value` with its operator (None for a bare `${NAME}`)."""
    return [(m.group("name"), m.group("op")) for m in _VARIABLE.finditer(value) if m.group("name")]


def environment(service: str, variables: dict[str, str]) -> dict[str, str]:
    """The service's environment once compose has interpolated it."""
    env = SERVICES[service].get("environment") or {}
    return {k: interpolate(str(v), variables) for k, v in env.items()}


def command(service: str) -> list[str]:
    return [*SERVICES[service].get("entrypoint", []), *SERVICES[service]["command"]]
