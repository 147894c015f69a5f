"""Send queues in real processes sharing flood limits through one PostgreSQL database.

:func:`run_senders` starts one ``spawn`` child per plan; each runs the real
:class:`~bot.telegram.send_queue.FairRateLimiter` with the real
:class:`~bot.telegram.shared_pace.SharedPace`, and its local limits loosened, so that only the
shared limits can hold the processes together to Telegram's pace. Each child starts its sends at
the same wall-clock moment, all at once, and reports when each was let through (the Bot API call
runs at that moment).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass

from bot.telegram.shared_pace import SharedLimits


@dataclass(frozen=True)
class Send:
    chat_id: int
    endpoint: str = "sendMessage"
    priority: str = "REPLY"  # a send_queue.Priority name
    delay: float = 0.0  # seconds after the common start


@dataclass(frozen=True)
class Sent:
    process: int
    chat_id: int
    endpoint: str
    priority: str
    at: float


def _run(index: int, url: str, limits: SharedLimits, plan: list[Send], start: float, out) -> None:
    from bot.telegram.send_queue import FairRateLimiter, Limits, Priority, SendOptions
    from bot.telegram.shared_pace import SharedPace

    async def main() -> list[Sent]:
        loose = Limits(overall_per_second=1000.0, private=(1000, 1.0), group=(1000, 1.0))
        limiter = FairRateLimiter(loose, shared=SharedPace(url, limits))
        sent: list[Sent] = []

        async def one(send: Send) -> None:
            async def call(*_args, **_kwargs):
                sent.append(Sent(index, send.chat_id, send.endpoint, send.priority, time.time()))
                return {"ok": True}

            await asyncio.sleep(max(0.0, start + send.delay - time.time()))
            options = SendOptions(Priority[send.priority])
            await limiter.process_request(
                call, (), {}, send.endpoint, {"chat_id": send.chat_id}, options
            )

        await asyncio.gather(*(one(s) for s in plan))
        await limiter.shutdown()
        return sent

    out.put(asyncio.run(main()))


def run_senders(
    url: str, limits: SharedLimits, plans: list[list[Send]], timeout: float
) -> list[Sent]:
    """Run each plan in its own process, starting together; every send each let through."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start = time.time() + 3.0  # time for the interpreters to start
    processes = [
        context.Process(target=_run, args=(i, url, limits, plan, start, out), daemon=True)
        for i, plan in enumerate(plans)
    ]
    for process in processes:
        process.start()
    try:
        results = [out.get(timeout=timeout) for _ in processes]
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    return [s for result in results for s in result]


def peak(times: list[float], window: float) -> int:
    """The most sends in any half-open ``window`` of seconds."""
    times = sorted(times)
    best, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best
