"""The tail rule: ask again for a range's last bytes only when they stopped coming at the end."""

from __future__ import annotations

import pytest

from bot.downloads.segments import Segment
from bot.downloads.tail import STALL_SECONDS, TAIL_BYTES, TAIL_READ, TailRestart, read_limit

KB = 1024
MB = 1 << 20


def segment(size: int, delivered: int, started: float = 0.0) -> Segment:
    """A range of ``size`` bytes from offset 0 of which ``delivered`` are on disk."""
    return Segment(0, size - 1, delivered, delivered, started)


def test_last_bytes_stalled_at_the_end_are_asked_again():
    rule = TailRestart()
    # lighttpd: 1 MiB minus the headers' share came a second after the request, then nothing.
    seg = segment(MB, MB - 1200)
    assert rule.due(seg, moved=1.0, now=1.01 + STALL_SECONDS, pending=False)


def test_not_while_ranges_are_still_unassigned():
    seg = segment(MB, MB - 1200)
    assert not TailRestart().due(seg, moved=1.0, now=5.0, pending=True)


def test_not_before_the_stall_lasted_long_enough():
    seg = segment(MB, MB - 1200)
    assert not TailRestart().due(seg, moved=1.0, now=1.0 + STALL_SECONDS * 0.9, pending=False)


def test_not_when_more_than_the_last_bytes_are_left():
    seg = segment(4 * MB, 4 * MB - TAIL_BYTES - 1)
    assert not TailRestart().due(seg, moved=1.0, now=5.0, pending=False)


def test_a_steady_slow_connection_is_not_stalled():
    # 40 kB/s, read in 16 KiB chunks that come 0.4 s apart: longer than the stall, but at its
    # own speed the 16 KiB left need 0.4 s, so it is slow, not stalled (stealing's business).
    seg = segment(256 * KB, 240 * KB)
    moved = 240 * KB / 40_000
    assert not TailRestart().due(seg, moved=moved, now=moved + 0.3, pending=False)


def test_a_range_that_never_sent_a_byte_is_not_this_rules_business():
    seg = segment(64 * KB, 0)
    assert not TailRestart().due(seg, moved=0.0, now=10.0, pending=False)


def test_finished_ranges_are_left_alone():
    seg = segment(MB, MB)
    assert not TailRestart().due(seg, moved=1.0, now=5.0, pending=False)


def test_wait_says_when_to_look_and_nothing_once_that_moment_passed():
    rule = TailRestart()
    seg = segment(MB, MB - 1200)
    assert rule.wait(seg, moved=1.0, now=1.05, pending=False) == pytest.approx(STALL_SECONDS - 0.05)
    assert rule.wait(seg, moved=1.0, now=1.0 + STALL_SECONDS, pending=False) is None
    assert rule.wait(seg, moved=1.0, now=1.05, pending=True) is None
    assert rule.wait(segment(4 * MB, MB), moved=1.0, now=1.05, pending=False) is None


def test_reads_are_small_near_a_ranges_end_only():
    # A read waits until it is full: near the end, bytes that came before a stall must be
    # counted, or the range looks further from its end than it is.
    assert read_limit(4 * MB) is None
    assert read_limit(2 * TAIL_BYTES + 1) is None
    assert read_limit(2 * TAIL_BYTES) == TAIL_READ
    assert read_limit(1) == TAIL_READ


def test_a_far_server_gets_a_few_round_trips_before_its_last_bytes_count_as_stalled():
    rule = TailRestart()
    seg = segment(MB, MB - 1200)
    # 0.3 s round trip: the last bytes may just be one round trip away; wait three.
    assert not rule.due(seg, moved=1.0, now=1.5, pending=False, round_trip=0.3)
    assert rule.due(seg, moved=1.0, now=1.95, pending=False, round_trip=0.3)
    assert rule.wait(seg, moved=1.0, now=1.5, pending=False, round_trip=0.3) == pytest.approx(0.4)
    # On a near server the floor holds.
    assert rule.due(seg, moved=1.0, now=1.01 + STALL_SECONDS, pending=False, round_trip=0.001)
