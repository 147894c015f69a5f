"""The fair send queue: chats take turns, rings go first, limits hold, failures are retried."""

from __future__ import annotations

import asyncio

from telegram.error import NetworkError, RetryAfter

from bot.telegram import send_queue
from bot.telegram.send_queue import FairRateLimiter, Limits, Priority, SendOptions

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


def test_per_chat_window_and_overall_pace_hold() -> None:
    limits = Limits(overall_per_second=50.0, private=(3, 0.5), group=(20, 60.0))

    async def scenario() -> list[float]:
        limiter = FairRateLimiter(limits)
        loop = asyncio.get_running_loop()
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

    times = asyncio.run(scenario())
    assert all(
        b - a >= 0.019 for a, b in zip(times, times[1:], strict=False)
    )  # 1/50 s apart overall
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= 0.49  # never 4 within the chat's 0.5 s window


def test_failures_are_retried_by_the_calls_policy_and_429_pauses_the_chat() -> None:
    async def scenario() -> tuple[list[str], float]:
        limiter, log = FairRateLimiter(FAST), []
        loop = asyncio.get_running_loop()
        started = loop.time()
        fail = [NetworkError("Bad Gateway"), RetryAfter(1)]
        await _send(
            limiter,
            log,
            3,
            "sent",
            SendOptions(
                Priority.REPLY, send_queue.retry.RetryPolicy(attempts=5, budget=30, backoff=0.05)
            ),
            fail=fail,
        )
        await limiter.shutdown()
        return log, loop.time() - started

    log, took = asyncio.run(scenario())
    assert log == ["sent"] and took >= 1.0  # waited out retry_after


def test_progress_edits_leave_room_in_the_window_for_a_reply() -> None:
    limits = Limits(overall_per_second=1000.0, private=(3, 0.5), group=(20, 60.0))

    async def scenario() -> tuple[float, float]:
        limiter = FairRateLimiter(limits)
        loop = asyncio.get_running_loop()
        done: dict[str, float] = {}

        async def send(label: str, endpoint: str) -> None:
            async def call(*_a, **_k):
                done[label] = loop.time()

            await limiter.process_request(call, (), {}, endpoint, {"chat_id": 9}, None)

        started = loop.time()
        edits = [asyncio.create_task(send(f"edit{i}", "editMessageText")) for i in range(3)]
        await asyncio.sleep(0.1)  # two edits went; the third waits for the window
        await send("reply", "sendMessage")
        await asyncio.gather(*edits)
        await limiter.shutdown()
        return done["edit2"] - started, done["reply"] - started

    third_edit, reply = asyncio.run(scenario())
    assert third_edit >= 0.45  # two edits fill the window but its last send is kept free…
    assert reply < 0.2  # …so a reply goes at once, not after the edits
