"""The refusals a person reads. Commands raise them; one place (`api.errors`) turns each kind
into its HTTP status, and the pages show the same sentence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid field: where (dotted path), what is wrong (French), pydantic's type."""

    field: str
    message: str
    type: str = "value_error"


class DomainError(Exception):
    """A refusal with its French sentence (`message`), meant to be shown as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(DomainError):
    """No valid credentials (401)."""


class Forbidden(DomainError):
    """The caller's role or organisation may not take this act, whatever the object (403)."""


class NotFound(DomainError):
    """Missing — or another organisation's, which answers exactly the same (404)."""

    @classmethod
    def of(cls, what: str) -> NotFound:
        return cls(f"{what} introuvable.")


class Conflict(DomainError):
    """Not now: the record's state refuses the act (closed, not its turn, taken) (409)."""


class Invalid(DomainError):
    """Input that passed its model but not the rules around it (422), field by field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"Données invalides — {field} : {message}")
        self.errors = [FieldError(field, message.rstrip("."))]

    @classmethod
    def of(cls, errors: Iterable[FieldError]) -> Invalid:
        found = list(errors)
        err = cls.__new__(cls)
        summary = "; ".join(f"{e.field} : {e.message}" for e in found)
        DomainError.__init__(err, f"Données invalides — {summary}")
        err.errors = found
        return err


class TooMany(DomainError):
    """Too many requests from this caller for now (429): try again after `retry_after` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A part Relais needs (the process engine) cannot take the request now (503)."""

    retry_after = 5
