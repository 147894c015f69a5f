"""A quiet chat's reply latency while another chat floods the bot with commands.

Starts the Bot API emulator (in this process) and the real ``errandbot run``. One user sends
``--flood`` ``/timers`` commands at once; while the bot works through them (about one reply a
second to that chat, Telegram's per-chat pace), a second user sends ``/help`` every
``--gap`` seconds (a quiet person: within its own chat's pace of about one a second) and the time
from each ``/help`` to its reply is recorded. The same ``/help`` samples are first taken with
nothing else going on (baseline). Prints p50/p95 for both, their ratio, and how many flood replies
went out meanwhile. Not a test: it never fails on timing.

    .venv/bin/python bench/flood_latency.py [--flood 600] [--samples 40] [--gap 1.1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.botrun import bot_env, percentile, reply_latency, running_bot  # noqa: E402
from bot.sandbox.emulator import BotApiEmulator  # noqa: E402

FLOODER, QUIET = 42, 43


def sample(emulator: BotApiEmulator, samples: int, gap: float) -> list[float]:
    """Seconds from each quiet-chat /help to its reply; one /help every ``gap`` seconds at most."""
    latencies = []
    for _ in range(samples):
        latencies.append(reply_latency(emulator, QUIET, "/help", contains="Commands", timeout=60))
        time.sleep(max(0.0, gap - latencies[-1]))  # the user's pace, not a wait-for
    return latencies


def report(name: str, values: list[float]) -> str:
    return (
        f"{name:22s} p50 {percentile(values, 0.5) * 1000:8.1f} ms   "
        f"p95 {percentile(values, 0.95) * 1000:8.1f} ms   max {max(values) * 1000:8.1f} ms   "
        f"mean {statistics.mean(values) * 1000:8.1f} ms"
    )


def measure(emulator: BotApiEmulator, args: argparse.Namespace) -> None:
    """The quiet chat alone, then beside the flood; prints both and their ratio."""
    sample(emulator, 5, args.gap)  # warm-up
    idle = sample(emulator, args.samples, args.gap)
    for _ in range(args.flood):
        emulator.send_text(FLOODER, FLOODER, "/timers")
    flood_started = time.monotonic()
    busy = sample(emulator, args.samples, args.gap)
    elapsed = time.monotonic() - flood_started
    answered = len(emulator.bot_messages(FLOODER))
    print(
        f"flood: {args.flood} x /timers from one private chat; quiet chat: {args.samples} x /help, "
        f"one every {args.gap:g} s at most"
    )
    print(report("quiet alone", idle))
    print(report("quiet beside the flood", busy))
    print(
        f"ratio beside/alone: p50 {percentile(busy, 0.5) / percentile(idle, 0.5):.2f}x, "
        f"p95 {percentile(busy, 0.95) / percentile(idle, 0.95):.2f}x"
    )
    print(
        f"flood replies sent while measuring: {answered} of {args.flood} in {elapsed:.1f} s "
        f"({answered / elapsed:.2f}/s to the flooding chat)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=600)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--gap", type=float, default=1.1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="errand-flood-"))
    emulator = BotApiEmulator().start()
    try:
        with running_bot(emulator, bot_env(emulator, tmp, (FLOODER, QUIET))):
            measure(emulator, args)
    finally:
        emulator.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
