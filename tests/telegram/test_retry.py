"""The one retry policy: failures sorted by type, waits, and when it gives up."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.telegram import retry
from bot.telegram.api_errors import ChatFault, Failure, chat_fault, classify
from bot.telegram.retry import RetryPolicy


@pytest.mark.parametrize(
    "exc,kind",
    [
        (RetryAfter(3), Failure.RATE_LIMITED),
        (TimedOut(), Failure.TRANSIENT),
        (NetworkError("Bad Gateway"), Failure.TRANSIENT),
        (NetworkError("Internal Server Error (500)"), Failure.TRANSIENT),
        (NetworkError("Request Entity Too Large"), Failure.TOO_LARGE),
        (BadRequest("Bad Request: chat not found"), Failure.BAD_REQUEST),
        (Forbidden("Forbidden: bot was blocked by the user"), Failure.FORBIDDEN),
        (ChatMigrated(-1001234), Failure.CHAT_MIGRATED),
        (ValueError("a bug"), Failure.OTHER),
    ],
)
def test_failures_are_sorted_by_type(exc: Exception, kind: Failure) -> None:
    assert classify(exc) is kind


def test_chat_gone_is_not_retryable_but_typed() -> None:
    for exc in (Forbidden("blocked"), ChatMigrated(-100)):
        assert not classify(exc).retryable and classify(exc).chat_unreachable
        assert retry.RING.delay(1, exc, 0.0) is None


def test_chat_faults_come_from_the_same_classification() -> None:
    """What the chat layer does about a chat (move its rows, pause them) and what the retry policy
    gives up on are one sorting: a chat fault exactly when the failure is about the chat."""
    assert chat_fault(5, ChatMigrated(-1001234)) == ChatFault(Failure.CHAT_MIGRATED, 5, -1001234)
    assert chat_fault(5, Forbidden("Forbidden: bot was kicked")) == ChatFault(Failure.FORBIDDEN, 5)
    for exc in (
        RetryAfter(3),
        TimedOut(),
        NetworkError("Bad Gateway"),
        BadRequest("chat not found"),
        Forbidden("blocked"),
        ChatMigrated(-100),
        ValueError("a bug"),
    ):
        assert (chat_fault(5, exc) is not None) == classify(exc).chat_unreachable, exc


def test_retry_after_is_honoured_and_backoff_grows_to_its_cap() -> None:
    policy = RetryPolicy(attempts=None, budget=None, backoff=1.0, max_backoff=8.0)
    assert 7.0 <= policy.delay(1, RetryAfter(7), 0.0) <= 7.5
    waits = [policy.delay(n, NetworkError("Bad Gateway"), 0.0) for n in range(1, 8)]
    assert 1.0 <= waits[0] <= 1.25 and 2.0 <= waits[1] <= 2.5
    assert all(8.0 <= w <= 10.0 for w in waits[4:])  # capped (plus jitter)


def test_attempts_and_budget_end_the_tries() -> None:
    policy = RetryPolicy(attempts=3, budget=10.0, backoff=1.0)
    assert policy.delay(2, TimedOut(), 0.0) is not None
    assert policy.delay(3, TimedOut(), 0.0) is None  # three calls made
    assert policy.delay(1, RetryAfter(20), 0.0) is None  # would start past the budget


def test_run_retries_until_success_and_raises_what_it_cannot_retry() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise NetworkError("Service Unavailable (503)")
        return "sent"

    async def no_sleep(_seconds: float) -> None:
        return None

    assert asyncio.run(retry.REPLY.run(flaky, sleep=no_sleep)) == "sent" and len(calls) == 3

    async def blocked() -> None:
        raise Forbidden("Forbidden: bot was blocked by the user")

    with pytest.raises(Forbidden):
        asyncio.run(retry.RING.run(blocked, sleep=no_sleep))
