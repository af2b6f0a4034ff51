"""What a person can be asked to do: the kinds of tasks and of acts, one enum each, used by
the workflows that open the tasks, the inbox that completes them and the pages' forms."""

from __future__ import annotations

from enum import StrEnum


class TaskAction(StrEnum):
    """The act a task waits for (`tasks.action`)."""

    ACCEPT_CHARTER = "accept_charter"
    REFER_CANDIDATES = "refer_candidates"
    SCREEN = "screen"
    REQUEST_INTERVIEW = "request_interview"
    CONSENT = "consent"
    DECIDE = "decide"
    ACCEPT_QUOTE = "accept_quote"
    RATE = "rate"
    CONFIRM_ORDER = "confirm_order"
    DELIVER = "deliver"
    SIGN_CONVENTION = "sign_convention"
    REVIEW_CONVENTION = "review_convention"
    DECIDE_CONVENTION = "decide_convention"
    # A visit's action project the adviser may not launch: the network's staff launch it
    # from the visit's page (its campaign or service request closes the task).
    LAUNCH_PROJECT = "launch_project"
    # Follow-ups are done outside Relais: their task closes when the awaited person acts.
    FOLLOW_UP = "follow_up"
    CHASE_SIGNATURES = "chase_signatures"


FOLLOW_UPS = frozenset({TaskAction.FOLLOW_UP, TaskAction.CHASE_SIGNATURES})


class ReferralActionKind(StrEnum):
    """What a person does on a referral (`ReferralAction.kind`)."""

    SCREEN = "screen"
    REQUEST_INTERVIEW = "request_interview"
    CONSENT = "consent"
    DECIDE = "decide"
    WITHDRAW = "withdraw"
