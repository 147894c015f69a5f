"""The fair send queue: chats take turns, rings go first, limits hold, failures are retried."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import looptime
import pytest
from telegram.error import NetworkError, RetryAfter

from bot.telegram import send_queue
from bot.telegram.send_queue import FairRateLimiter, Limits, Priority, SendOptions

pytestmark = pytest.mark.timeout(30)
T = TypeVar("T")
FAST = Limits(overall_per_second=1000.0, private=(1, 0.05), group=(20, 60.0))


async def _send(
    limiter: FairRateLimiter,
    log: list,
    chat: int,
    label: str,
    options: SendOptions | None = None,
    endpoint: str = "sendMessage",
    fail: list | None = None,
):
    async def call(*_args, **_kwargs):
        if fail:
            raise fail.pop(0)
        log.append(label)
        return {"ok": True}

    return await limiter.process_request(call, (), {}, endpoint, {"chat_id": chat}, options)


def test_a_flooding_chat_does_not_hold_up_a_quiet_one() -> None:
    async def scenario() -> list[str]:
        limiter, log = FairRateLimiter(FAST), []
        flood = [asyncio.create_task(_send(limiter, log, 1, f"flood{i}")) for i in range(20)]
        await asyncio.sleep(0)
        quiet = asyncio.create_task(_send(limiter, log, 2, "quiet"))
        await asyncio.gather(*flood, quiet)
        await limiter.shutdown()
        return log

    log = asyncio.run(scenario())
    assert log.index("quiet") <= 2, log  # served at its first turn, not after 20 flood replies
    assert [x for x in log if x.startswith("flood")] == [f"flood{i}" for i in range(20)]  # in order


def test_a_ring_jumps_its_chats_queue_and_edits_go_after_replies() -> None:
    async def scenario() -> list[str]:
        limiter, log = FairRateLimiter(FAST), []
        tasks = [
            asyncio.create_task(_send(limiter, log, 1, f"edit{i}", endpoint="editMessageText"))
            for i in range(3)
        ]
        tasks += [asyncio.create_task(_send(limiter, log, 1, f"reply{i}")) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(_send(limiter, log, 1, "ring", send_queue.RING)))
        await asyncio.gather(*tasks)
        await limiter.shutdown()
        return log

    log = asyncio.run(scenario())
    assert log.index("ring") < log.index("reply1"), log  # ahead of the replies still waiting
    assert log.index("reply0") < log.index("edit0"), log  # edits wait when both could go


def _in_loop_time(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``scenario()`` on an event loop whose clock is fake (looptime): it starts at 0 and jumps
    straight to the next timer when nothing is ready, so a sleep of 0.5 s takes no wall time and
    every time the limiter reads is exactly what it scheduled, however busy the machine is. A
    schedule that runs past 60 fake seconds fails (LoopTimeoutError)."""
    with asyncio.Runner(
        loop_factory=lambda: looptime.new_event_loop(start=0.0, end=60.0)
    ) as runner:
        return runner.run(scenario())


def test_per_chat_window_and_overall_pace_hold() -> None:
    limits = Limits(overall_per_second=50.0, private=(3, 0.5), group=(20, 60.0))

    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = FairRateLimiter(limits, clock=loop.time)
        times: list[float] = []

        async def call(*_a, **_k):
            times.append(loop.time())

        await asyncio.gather(
            *[
                limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 5}, None)
                for _ in range(7)
            ]
        )
        await limiter.shutdown()
        return times

    # Three sends 1/50 s apart fill the chat's 0.5 s window; the next three go as each first one
    # leaves it, the seventh when the fourth does.
    assert _in_loop_time(scenario) == pytest.approx([0.0, 0.02, 0.04, 0.5, 0.52, 0.54, 1.0])


def test_failures_are_retried_by_the_calls_policy_and_429_pauses_the_chat() -> None:
    async def scenario() -> tuple[list[str], list[float], float]:
        loop = asyncio.get_running_loop()
        limiter, log, tries = FairRateLimiter(FAST, clock=loop.time), [], []
        fail = [NetworkError("Bad Gateway"), RetryAfter(1)]
        other: list[asyncio.Task] = []
        other_at: list[float] = []

        async def other_call(*_a, **_k):
            other_at.append(loop.time())

        async def call(*_a, **_k):
            tries.append(loop.time())
            if fail:
                if isinstance(fail[0], RetryAfter):  # another message to the chat, asked meanwhile
                    other.append(
                        asyncio.create_task(
                            limiter.process_request(
                                other_call, (), {}, "sendMessage", {"chat_id": 3}, None
                            )
                        )
                    )
                raise fail.pop(0)
            log.append("sent")
            return {"ok": True}

        await limiter.process_request(
            call,
            (),
            {},
            "sendMessage",
            {"chat_id": 3},
            SendOptions(
                Priority.REPLY, send_queue.retry.RetryPolicy(attempts=5, budget=30, backoff=0.05)
            ),
        )
        await asyncio.gather(*other)
        await limiter.shutdown()
        return log, tries, other_at[0]

    # A real event loop: the retry policy keeps its budget on the real clock, which a fake loop
    # clock outruns (looptime then ends the loop). Every bound below holds however busy the machine.
    log, tries, other_at = asyncio.run(scenario())
    assert log == ["sent"] and len(tries) == 3, tries
    assert tries[1] - tries[0] < 1.0  # a 502 is retried after the policy's short backoff…
    # …a 429 only once its retry_after has passed, and the chat's other messages wait for it too
    # (loop time is kept to the microsecond: 1.05632 - 0.05632 may be a hair under 1).
    assert round(tries[2] - tries[1], 6) >= 1.0, tries
    assert round(other_at - tries[1], 6) >= 1.0, (tries, other_at)


def test_progress_edits_leave_room_in_the_window_for_a_reply() -> None:
    limits = Limits(overall_per_second=1000.0, private=(3, 0.5), group=(20, 60.0))

    async def scenario() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        limiter = FairRateLimiter(limits, clock=loop.time)
        done: dict[str, float] = {}

        async def send(label: str, endpoint: str) -> None:
            async def call(*_a, **_k):
                done[label] = loop.time()

            await limiter.process_request(call, (), {}, endpoint, {"chat_id": 9}, None)

        edits = [asyncio.create_task(send(f"edit{i}", "editMessageText")) for i in range(3)]
        await asyncio.sleep(0.1)  # two edits went; the third waits for the window
        await send("reply", "sendMessage")
        await asyncio.gather(*edits)
        await limiter.shutdown()
        return done

    done = _in_loop_time(scenario)
    # Two edits fill the window but its last send is kept free: the third edit waits until the
    # first leaves the window (0.5 s), while the reply asked at 0.1 s goes at once.
    assert done == pytest.approx({"edit0": 0.0, "edit1": 0.001, "edit2": 0.5, "reply": 0.1})
