"""The retry policy's list of errors no retry can cure matches what asyncpg really raises.

Temporal compares a failure's type, the raised class's own name, with the list: naming
`DataError` does not cover `InvalidDatetimeFormatError`. So every class is listed, and this
test fails when an asyncpg upgrade adds one."""

from __future__ import annotations

import asyncpg
import asyncpg.exceptions as pg

from activities.errors import REFUSALS, HireRefused, MissingRow, OnboardingRefused
from workflows.common import NOT_RETRYABLE, POSTGRES_DATA_ERRORS, RETRY


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_postgres_data_error_is_named():
    expected = {c.__name__ for c in _subclasses(pg.DataError)} | {"DataError"}
    assert set(POSTGRES_DATA_ERRORS) == expected
    # asyncpg's own error for an argument it cannot encode bears the same name.
    assert asyncpg.exceptions._base.DataError.__name__ in POSTGRES_DATA_ERRORS


def test_integrity_errors_no_retry_cures_are_named_and_races_are_not():
    for cls in (
        pg.ForeignKeyViolationError,
        pg.CheckViolationError,
        pg.NotNullViolationError,
        pg.RestrictViolationError,
    ):
        assert cls.__name__ in NOT_RETRYABLE
    for transient in (
        pg.UniqueViolationError,
        pg.ExclusionViolationError,
        pg.SerializationError,
        pg.DeadlockDetectedError,
        pg.ConnectionDoesNotExistError,
        pg.AdminShutdownError,
        pg.CannotConnectNowError,
        asyncpg.InterfaceError,
    ):
        assert transient.__name__ not in NOT_RETRYABLE


def test_the_policy_carries_the_list_and_refusals_are_non_retryable_by_themselves():
    assert RETRY.non_retryable_error_types == NOT_RETRYABLE
    assert RETRY.maximum_attempts == 0  # transient errors: retried for as long as it takes
    assert REFUSALS <= set(NOT_RETRYABLE) and "MissingRow" in NOT_RETRYABLE
    for err in (OnboardingRefused("non"), HireRefused("non"), MissingRow("campaign x")):
        assert err.non_retryable and err.type in NOT_RETRYABLE
