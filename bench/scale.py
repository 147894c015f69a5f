"""Issue #16 at scale: rings and downloads shared by several ``errandbot worker`` processes on one
PostgreSQL database, one worker ``kill -9``ed mid-way.

The real processes on loopback (:mod:`tests.e2e.scalerig`: a private PostgreSQL server, one
``errandbot run`` front behind nginx, N workers, the Bot API emulator):

1. **Rings.** ``--pending`` reminders (100,000) inserted straight into the database through the
   project's models (one bulk INSERT), ``--due`` (3,000) of them due within ``--window`` seconds
   (30), each in its own private chat; the rest due tomorrow. N workers (3) ring them; one is
   ``kill -9``ed half-way through the window. Measured at the emulator: **lost** (a due reminder
   that never rang: must be 0), **repeated** (rings beyond the first), ring **lateness** (the
   first ring's arrival minus its due time) p50/p99 for reminders due before the kill and after
   it, and the **peak sends in any one-second window** (Telegram allows 30/s per bot). The peer:
   the same rings from one worker alone, same run, same database size, no kill.
2. **Downloads.** ``--downloads`` (20) ``/download`` commands from as many chats through the
   front; the files (``--size`` MB each, served at ``--rate`` MB/s per connection by a local
   origin) are fetched by the workers; every document's sha256 is checked; which worker ran how
   many (from their logs); wall time from the first command to the last document. Peer: the
   same with one worker.

Not a test: it never fails on timing (it does fail if a ring is lost or a file is wrong). Loopback
only. Needs PostgreSQL's server binaries (``apt-get install postgresql``) and nginx:

    .venv/bin/python bench/scale.py [--pending 100000] [--due 3000] [--window 30] [--workers 3]
                                    [--downloads 20] [--size 8] [--rate 4]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.reminders.store import Reminder, ReminderKind, ReminderState  # noqa: E402
from bot.sandbox.emulator import BotApiEmulator, Message  # noqa: E402
from bot.storage import open_database  # noqa: E402
from tests.e2e.scalerig import ScaleRig  # noqa: E402
from tests.e2e.test_workers import started_on  # noqa: E402
from tests.origin import Origin  # noqa: E402
from tests.pgcluster import Cluster, start_cluster  # noqa: E402

DUE_CHATS = 10_000_000  # the due reminders' chats: DUE_CHATS + i
LATER_CHATS = 20_000_000  # the others' (never rung during the run)
LEAD = 40.0  # seconds from the insert to the first due time (--lead): processes start meanwhile


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def peak_per_second(times: list[float]) -> int:
    """The most sends in any one-second window (sliding, starting at each send)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def paced_lateness(due_times: list[float], per_second: float) -> list[float]:
    """The lateness the shared pace alone forces: ring k goes at max(its due time, one step
    after ring k-1), the best any set of processes can do at ``per_second`` (due_times sorted)."""
    lateness, free = [], float("-inf")
    for due in due_times:
        at = max(due, free)
        lateness.append(at - due)
        free = at + 1.0 / per_second
    return lateness


@dataclass
class Sends:
    """Every message the bot sent, with the wall time it reached the emulator."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[tuple[float, int, str]] = field(default_factory=list)

    def __call__(self, kind: str, message: Message) -> None:
        if kind == "send":
            with self.lock:
                self.seen.append((time.time(), message.chat_id, message.text or ""))

    def since(self, start: float) -> list[tuple[float, int, str]]:
        with self.lock:
            return [s for s in self.seen if s[0] >= start]


def new_database(cluster: Cluster, name: str) -> str:
    cluster.admin(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


def fill(url: str, pending: int, due: int, first_due: float, window: float) -> list[float]:
    """Insert ``pending`` reminders, ``due`` of them spread evenly over ``window`` seconds from
    ``first_due``; return the due times (index i: chat DUE_CHATS + i)."""
    engine, _ = open_database(url)  # migrates the new database first
    now = time.time()
    due_times = [first_due + window * i / due for i in range(due)]
    rows = [
        {
            "kind": ReminderKind.REMINDER.value,
            "chat_id": DUE_CHATS + i,
            "chat_type": "private",
            "user_id": DUE_CHATS + i,
            "label": f"r{i}",
            "due_at": at,
            "tz": "UTC",
            "state": ReminderState.PENDING.value,
            "created_at": now,
        }
        for i, at in enumerate(due_times)
    ] + [
        {
            "kind": ReminderKind.REMINDER.value,
            "chat_id": LATER_CHATS + i,
            "chat_type": "private",
            "user_id": LATER_CHATS + i,
            "label": f"later{i}",
            "due_at": now + 86_400 + i,
            "tz": "UTC",
            "state": ReminderState.PENDING.value,
            "created_at": now,
        }
        for i in range(pending - due)
    ]
    random.Random(16).shuffle(rows)  # due rows scattered through the table, as in real use
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Reminder), rows)
    took = time.perf_counter() - started
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(Reminder))
    engine.dispose()
    print(f"inserted {count} reminders in {took:.1f} s ({due} due within {window:.0f} s)")
    return due_times


@dataclass
class Group:
    """The first rings of some due reminders: their lateness and what the pace alone forces."""

    name: str
    late: list[float]
    floor: list[float]

    def line(self) -> str:
        ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
        if not self.late:
            return f"  {self.name}: none"
        return (
            f"  {self.name} ({len(self.late)}): lateness p50 {ms(pct(self.late, 0.5))}, p99 "
            f"{ms(pct(self.late, 0.99))}, max {ms(max(self.late))} (the pace alone: p50 "
            f"{ms(pct(self.floor, 0.5))}, p99 {ms(pct(self.floor, 0.99))})"
        )


@dataclass
class RingResult:
    lost: int
    repeated: int
    repeated_not_held: int
    groups: list[Group]
    peak: int
    stray: int
    span: float

    def lines(self, label: str) -> str:
        return "\n".join(
            [
                f"{label}: lost {self.lost}, repeated {self.repeated} ({self.repeated_not_held} "
                f"of them not held by the killed worker), stray {self.stray}; peak {self.peak} "
                f"sends in any 1 s; last first-ring {self.span:.1f} s after the first due time",
                *(group.line() for group in self.groups),
            ]
        )

    def p99(self) -> float:
        return pct(self.groups[0].late, 0.99)


def run_rings(
    cluster: Cluster, folder: Path, args: argparse.Namespace, workers: int, kill: bool
) -> RingResult:
    url = new_database(cluster, f"rings_{workers}_{int(kill)}")
    first_due = time.time() + args.lead
    due_times = fill(url, args.pending, args.due, first_due, args.window)
    sends = Sends()
    held: set[int] = set()  # the due reminders the killed worker had claimed, not yet recorded
    killed_at = float("inf")
    with BotApiEmulator() as emulator:
        emulator.subscribe(sends)
        with ScaleRig(emulator, url, folder, replicas=1, workers=workers, env=args.env) as rig:
            ready = time.time()
            if ready > first_due:
                print(f"  (the processes were ready {ready - first_due:.1f} s after the first due)")
            if kill:
                victim = rig.workers[-1]
                assert victim.proc is not None
                rig.poll(
                    lambda: time.time() >= first_due + args.window / 2,
                    args.lead + args.window,
                    "mid-way",
                    every=0.01,
                )
                rig.freeze(victim)
                killed_at = time.time()
                held = {
                    chat - DUE_CHATS
                    for (chat,) in rig.query(
                        "SELECT chat_id FROM reminders WHERE state = 'pending' "
                        f"AND claimed_by LIKE '%:{victim.proc.pid}:%'"
                    )
                }
                rig.kill9(victim)
                print(
                    f"  killed {victim.data_dir.name} at +{killed_at - first_due:.1f} s, "
                    f"holding {len(held)} claimed rings"
                )

            def rung() -> set[int]:
                return {chat for _, chat, _ in sends.since(0) if chat - DUE_CHATS < args.due}

            try:
                emulator.wait_for(
                    lambda: len(rung()) >= args.due,
                    args.window + args.due / 20 + 120,
                    "every due reminder to ring",
                )
            except TimeoutError:
                print(f"  timed out: {args.due - len(rung())} never rang")
            # a repeat (a ring in flight at the kill, sent again) comes once the killed worker's
            # lease runs out: watch until nothing more is sent for 15 s (bounded)
            settle_end = time.time() + 90
            while time.time() < settle_end:
                last = max((t for t, _, _ in sends.since(0)), default=0.0)
                if time.time() - last > 15:
                    break
                time.sleep(1)
    first: dict[int, float] = {}
    counts: dict[int, int] = {}
    stray = 0
    for at, chat, _ in sends.since(0):
        index = chat - DUE_CHATS
        if 0 <= index < args.due:
            counts[index] = counts.get(index, 0) + 1
            first.setdefault(index, at)
        else:
            stray += 1
    floor = paced_lateness(due_times, args.pace)

    def group(name: str, chosen: list[int]) -> Group:
        rang = [i for i in chosen if i in first]
        return Group(name, [first[i] - due_times[i] for i in rang], [floor[i] for i in rang])

    everything = range(args.due)
    groups = [
        group(
            "due before the kill" if kill else "all",
            [i for i in everything if due_times[i] < killed_at and i not in held],
        )
    ]
    if kill:
        groups += [
            group("held by the killed worker", sorted(held)),
            group(
                "due after the kill",
                [i for i in everything if due_times[i] >= killed_at and i not in held],
            ),
        ]
    return RingResult(
        lost=args.due - len(first),
        repeated=sum(c - 1 for c in counts.values()),
        repeated_not_held=sum(c - 1 for i, c in counts.items() if i not in held),
        groups=groups,
        peak=peak_per_second([t for t, _, _ in sends.since(0)]),
        stray=stray,
        span=max(first.values(), default=first_due) - first_due,
    )


def run_downloads(cluster: Cluster, folder: Path, args: argparse.Namespace, workers: int) -> str:
    url = new_database(cluster, f"downloads_{workers}")
    open_database(url)[0].dispose()
    files = {
        f"/f{i}.bin": random.Random(i).randbytes(args.size * 1_000_000)
        for i in range(args.downloads)
    }
    with Origin() as origin, BotApiEmulator() as emulator:
        for path, data in files.items():
            origin.add_file(path, data, rate=args.rate * 1_000_000)
        with ScaleRig(emulator, url, folder, replicas=1, workers=workers, env=args.env) as rig:
            chats = {path: DUE_CHATS + i for i, path in enumerate(files)}
            started = time.time()
            sent = {
                path: emulator.send_text(chat, chat, f"/download {origin.url(path)}")
                for path, chat in chats.items()
            }

            def documents() -> dict[str, Message]:
                found = {}
                for path, chat in chats.items():
                    for m in emulator.bot_messages(chat):
                        if m.document and m.reply_to == sent[path].message_id:
                            found[path] = m
                return found

            got = emulator.wait_for(
                lambda: len(documents()) == len(files) and documents(),
                600,
                "every document",
            )
            took = time.time() - started
            wrong = [
                p
                for p, m in got.items()
                if m.document["sha256"] != hashlib.sha256(files[p]).hexdigest()
            ]
            spread = {w.data_dir.name: len(started_on(w)) for w in rig.workers}
    assert not wrong, f"wrong content: {wrong}"
    return (
        f"{len(files)} downloads of {args.size} MB at {args.rate} MB/s per connection, "
        f"{workers} worker(s): all delivered, sha256 right, {took:.1f} s; ran on {spread}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=3_000)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--pace",
        type=float,
        default=25.0,
        help="the deployment's shared messages/s (shared_pace.SharedLimits: 25, evenly)",
    )
    parser.add_argument("--lead", type=float, default=LEAD, help="seconds before the first due")
    parser.add_argument("--downloads", type=int, default=20)
    parser.add_argument("--size", type=int, default=8, help="MB per download")
    parser.add_argument("--rate", type=float, default=4.0, help="MB/s per origin connection")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an Errand setting for every process (repeatable)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the one-worker runs")
    parser.add_argument(
        "--keep", action="store_true", help="keep the processes' logs (the folder is printed)"
    )
    parser.add_argument("--skip", choices=("rings", "downloads"), action="append", default=[])
    args = parser.parse_args()
    args.env = dict(item.split("=", 1) for item in args.set) | {"LOG_LEVEL": "INFO"}
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="errand-bench-scale-") as tmp:
            folder = (
                Path(tempfile.mkdtemp(prefix="errand-bench-scale-")) if args.keep else Path(tmp)
            )
            if args.keep:
                print(f"logs kept in {folder}")
            if "rings" not in args.skip:
                result = run_rings(cluster, folder / "rings", args, args.workers, kill=True)
                print(result.lines(f"rings, {args.workers} workers, one killed"))
                if not args.no_peer:
                    peer = run_rings(cluster, folder / "rings-peer", args, 1, kill=False)
                    print(peer.lines("peer: rings, 1 worker, no kill"))
                    print(f"p99 ratio (before the kill / peer): {result.p99() / peer.p99():.2f}")
                assert result.lost == 0, f"{result.lost} rings lost"
            if "downloads" not in args.skip:
                print(run_downloads(cluster, folder / "dl", args, args.workers))
                if not args.no_peer:
                    print("peer: " + run_downloads(cluster, folder / "dl-peer", args, 1))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
