"""Parse time of the time grammar per phrase over the acceptance corpus
(tests/reminders/corpus.txt), beside dateparser on the same phrases in the same run (the general
date library the grammar no longer trusts; it is the peer, not a competitor in meaning: it misreads
many of them).

    .venv/bin/python bench/phrases.py [--repeat 20]

Prints p50 / p99 / max per phrase for ``parse_when`` and for ``dateparser.parse`` and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.reminders.errors import ReminderInputError  # noqa: E402
from bot.reminders.when import parse_when  # noqa: E402
from tests.reminders.corpus import rows  # noqa: E402


def _best(call, repeat: int) -> float:
    """The best of ``repeat`` timings of ``call()`` in ms (noise from a shared machine removed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _grammar(row) -> None:
    try:
        parse_when(row.phrase, row.now, row.zone)
    except ReminderInputError:
        pass


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    corpus = rows()
    for row in corpus[:5]:
        _grammar(row)  # warm-up: imports and caches
    ours = [_best(lambda r=row: _grammar(r), args.repeat) for row in corpus]
    p50, p99, worst = _percentiles(ours)
    print(f"phrases: {len(corpus)}")
    print(f"parse_when       p50 {p50:.3f} ms   p99 {p99:.3f} ms   max {worst:.3f} ms")
    try:
        import dateparser
    except ImportError:
        print("dateparser: not installed (pip install dateparser) - no peer figures")
        return

    def peer(row) -> None:
        settings = {
            "PREFER_DATES_FROM": "future",
            "TIMEZONE": row.zone.key,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "RELATIVE_BASE": row.now.replace(tzinfo=None),
        }
        dateparser.parse(row.phrase, settings=settings)

    for row in corpus[:5]:
        peer(row)
    theirs = [_best(lambda r=row: peer(r), max(3, args.repeat // 5)) for row in corpus]
    q50, q99, qmax = _percentiles(theirs)
    print(f"dateparser.parse p50 {q50:.3f} ms   p99 {q99:.3f} ms   max {qmax:.3f} ms")
    print(f"ratio (dateparser / parse_when): p50 {q50 / p50:.1f}x   p99 {q99 / p99:.1f}x")


if __name__ == "__main__":
    main()
