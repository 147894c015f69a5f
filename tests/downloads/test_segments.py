"""The byte bookkeeping on its own: inclusive ranges, splits, steals, resume gaps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.downloads.segments import SegmentMap, gaps, merge, split


def test_merge_joins_touching_and_overlapping_ranges():
    assert merge([(5, 9), (0, 4)]) == [(0, 9)]
    assert merge([(0, 3), (5, 9)]) == [(0, 3), (5, 9)]
    assert merge([(0, 9), (2, 3)]) == [(0, 9)]
    assert merge([]) == []


def test_gaps_are_the_complement_including_both_edges():
    assert gaps([], 10) == [(0, 9)]
    assert gaps([(0, 9)], 10) == []
    assert gaps([(1, 8)], 10) == [(0, 0), (9, 9)]
    assert gaps([(0, 0), (2, 2)], 4) == [(1, 1), (3, 3)]


def test_split_covers_exactly_with_inclusive_ends():
    assert split(0, 9, 3) == [(0, 2), (3, 5), (6, 9)]
    assert split(0, 0, 8) == [(0, 0)]
    assert split(10, 12, 8) == [(10, 10), (11, 11), (12, 12)]


def test_one_byte_file():
    m = SegmentMap(1, min_split=1)
    seg = m.take()
    assert (seg.start, seg.end) == (0, 0)
    assert m.take() is None  # nothing to steal from a single byte
    assert m.claim(seg, 5) == 1
    m.flushed(seg, 1)
    m.finish(seg)
    assert m.complete and m.done_ranges() == [(0, 0)]


def test_steal_takes_upper_half_and_victim_stops_at_new_end():
    m = SegmentMap(100, min_split=10)
    a = m.take()
    assert (a.start, a.end) == (0, 99)
    assert m.claim(a, 20) == 20
    m.flushed(a, 20)
    b = m.take()  # 80 remaining: thief gets 60..99, victim keeps 20..59
    assert (b.start, b.end) == (60, 99)
    assert a.end == 59
    assert m.claim(a, 100) == 40  # a chunk read past the new end is cut
    m.flushed(a, 40)
    assert a.finished
    assert m.claim(a, 1) == 0


def test_no_steal_below_min_split():
    m = SegmentMap(100, min_split=51)
    m.take()
    assert m.take() is None


def test_unfinished_segment_returns_its_rest_to_pending():
    m = SegmentMap(10, min_split=1)
    seg = m.take()
    m.claim(seg, 4)
    m.flushed(seg, 4)
    m.finish(seg)  # e.g. the worker gave up
    assert m.done_ranges() == [(0, 3)]
    nxt = m.take()
    assert (nxt.start, nxt.end) == (4, 9)


def test_resume_from_done_ranges_fetches_only_gaps():
    m = SegmentMap(100, done=[(0, 9), (50, 59)], min_split=1000)
    assert m.done_bytes == 20
    taken = [m.take(), m.take()]
    assert [(s.start, s.end) for s in taken] == [(10, 49), (60, 99)]
    assert m.take() is None


def test_done_ranges_out_of_bounds_are_rejected():
    with pytest.raises(ValueError):
        SegmentMap(10, done=[(5, 10)])


def test_plan_splits_for_all_workers():
    m = SegmentMap(1000, min_split=10)
    m.plan(4)
    segs = [m.take() for _ in range(4)]
    assert [(s.start, s.end) for s in segs] == [(0, 249), (250, 499), (500, 749), (750, 999)]


def test_written_bytes_count_not_claimed_ones():
    m = SegmentMap(10, min_split=1)
    seg = m.take()
    m.claim(seg, 5)  # claimed but not yet on disk
    assert m.done_ranges() == []
    m.flushed(seg, 5)
    assert m.done_ranges() == [(0, 4)]
    assert m.contiguous_prefix() == 5


ops = st.lists(
    st.tuples(st.sampled_from(["take", "chunk", "finish"]), st.integers(0, 7), st.integers(1, 40)),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(1, 300),
    min_split=st.integers(1, 50),
    program=ops,
    done=st.lists(st.tuples(st.integers(0, 299), st.integers(0, 30)), max_size=4),
)
def test_any_sequence_covers_the_file_exactly_once(total, min_split, program, done):
    """Whatever interleaving of takes, steals, chunks and early finishes: each byte written once."""
    done = [(a, min(a + n, total - 1)) for a, n in done if a < total]
    m = SegmentMap(total, done=done, min_split=min_split)
    writes = [0] * total
    for a, b in m.done_ranges():
        for i in range(a, b + 1):
            writes[i] += 1
    workers: dict[int, object] = {}

    def write(seg, n):
        offset = seg.pos
        got = m.claim(seg, n)
        for i in range(offset, offset + got):
            writes[i] += 1
        m.flushed(seg, got)

    for op, w, n in program:
        seg = workers.get(w)
        if op == "take" and seg is None:
            seg = m.take()
            if seg is not None:
                workers[w] = seg
        elif op == "chunk" and seg is not None:
            write(seg, n)
            if seg.finished:
                m.finish(workers.pop(w))
        elif op == "finish" and seg is not None:
            m.finish(workers.pop(w))  # a worker giving up early
    for w in list(workers):
        m.finish(workers.pop(w))
    # drain: one worker at a time until nothing is left
    while (seg := m.take()) is not None or not m.complete:
        if seg is None:
            seg = m.take()
            assert seg is not None, "pending bytes but nothing to take"
        while not seg.finished:
            write(seg, 17)
        m.finish(seg)
    assert writes == [1] * total
    assert m.done_ranges() == [(0, total - 1)]
    assert m.done_bytes == total


def test_slowest_segment_is_split_by_speed():
    now = [0.0]
    n = 10_000_000
    m = SegmentMap(3 * n, done=[(n, n), (2 * n, 2 * n)], min_split=1000, clock=lambda: now[0])
    a, b, c = m.take(), m.take(), m.take()
    assert (a.start, b.start, c.start) == (0, n + 1, 2 * n + 1)
    now[0] = 1.0
    m.flushed(a, m.claim(a, 100_000))  # 100 kB/s: 9.9 MB left, 99 s
    m.flushed(b, m.claim(b, 1_900_000))  # 1.9 MB/s
    m.flushed(c, m.claim(c, 1_000_000))  # 1 MB/s
    thief = m.take()
    # typical speed 1 MB/s against the victim's 0.1: the thief takes 10/11 of what `a` has left,
    # so both finish in about 9 s instead of the victim needing 49 s for its half.
    assert thief.end == n - 1 and a.end == thief.start - 1
    assert a.remaining == 900_000


def test_victim_of_unknown_speed_is_halved():
    now = [0.0]
    m = SegmentMap(1000, min_split=10, clock=lambda: now[0])
    a = m.take()
    m.flushed(a, m.claim(a, 10))
    now[0] = 0.1  # too short a sample to trust
    thief = m.take()
    assert (thief.start, thief.end) == (505, 999)


def test_small_but_slow_tail_is_still_split():
    now = [0.0]
    m = SegmentMap(1_000_000, done=[(0, 499_999)], min_split=800_000, clock=lambda: now[0])
    slow = m.take()  # 500 kB left: less than twice min_split
    now[0] = 1.0
    m.flushed(slow, m.claim(slow, 50_000))  # 50 kB/s: 9 s to go
    thief = m.take()
    assert thief is not None and thief.end == 999_999
    # unknown thief speed: halves; the victim alone would need 9 s, with the thief 4.5 s
    assert slow.remaining == 225_000


def test_slow_tail_split_needs_a_quarter_of_min_split():
    now = [0.0]
    m = SegmentMap(1_000_000, done=[(0, 499_999)], min_split=1 << 20, clock=lambda: now[0])
    slow = m.take()
    now[0] = 1.0
    m.flushed(slow, m.claim(slow, 50_000))  # slow, but its half (225 kB) is under 256 KiB
    assert m.take() is None


def test_fast_small_range_is_left_alone():
    now = [0.0]
    m = SegmentMap(1_000_000, done=[(0, 499_999)], min_split=1 << 20, clock=lambda: now[0])
    seg = m.take()
    now[0] = 1.0
    m.flushed(seg, m.claim(seg, 400_000))  # 400 kB/s: 0.25 s to go
    assert m.take() is None
