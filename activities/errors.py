"""How an activity says that it cannot do what it was asked, so that nobody retries it.

- The domain said no (a campaign closed, a position filled, a company not eligible): the
  activity raises a `Refused` subclass. Its message is the French sentence a person reads;
  it is never retried and is logged quietly (an expected outcome, not an incident). The
  workflow turns it into its answer (see `workflows.common.refusal`).
- The data cannot be what it should (a row the workflow relies on is gone): `MissingRow`,
  never retried either, so the workflow step fails at once instead of looping.
- Postgres refusing the data itself (`DataError` and its kin, a foreign key, a check):
  raised as asyncpg raises them; `workflows.common.NOT_RETRYABLE` names them.
Everything else (a connection lost, a serialization failure, a deadlock) is retried.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory


class Refused(ApplicationError):
    """The domain said no: retrying cannot change the answer. The failure's type is the
    subclass's name, its message the sentence for the person who acted."""

    def __init__(self, message: str, *details: str) -> None:
        super().__init__(
            message,
            *details,
            type=type(self).__name__,
            non_retryable=True,
            category=ApplicationErrorCategory.BENIGN,
        )


class OnboardingRefused(Refused):
    """The organisation cannot join (unknown, not a member company, already active)."""


class IntakeRefused(Refused):
    """A referral the campaign does not take (agency not invited, intake closed, a position
    of another campaign)."""


class HireRefused(Refused):
    """No place to fill (campaign closed, every position filled)."""


class PoolRequestRefused(Refused):
    """A member's request the pool does not take (not eligible, a reused idempotency key)."""


class MissingRow(ApplicationError):
    """A row the workflow relies on does not exist: a data error no retry can cure."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found", type="MissingRow", non_retryable=True)


# The failure types a workflow reads as "the domain said no".
REFUSALS = frozenset(
    c.__name__ for c in (OnboardingRefused, IntakeRefused, HireRefused, PoolRequestRefused)
)
