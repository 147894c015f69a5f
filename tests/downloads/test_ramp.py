"""The connection ramp: few connections on a fast link, all of them on slow ones, none after 429;
fewer again when this machine, not the network, is the limit."""

from __future__ import annotations

from bot.downloads.ramp import BUSY, FLOOR, ConnectionRamp

MB = 1 << 20


def feed(
    ramp: ConnectionRamp,
    per_connection: float,
    seconds: float,
    step: float = 0.1,
    *,
    total: float = float("inf"),
    cores: float = 0.1,
) -> list[int]:
    """Simulate ``seconds`` of transfer where every open connection moves ``per_connection`` B/s,
    all of them together at most ``total`` B/s (what this machine can take), the download using
    ``cores`` of CPU."""
    limits, done, now = [], 0, 0.0
    while now <= seconds + 1e-9:
        limit = ramp.update(now, int(done), ramp.limit, cores * now)
        limits.append(limit)
        done += min(per_connection * limit, total) * step
        now += step
    return limits


def test_starts_with_two_and_stays_there_on_a_fast_link():
    ramp = ConnectionRamp(16, start=2, fast=32 * MB, interval=0.3)
    assert feed(ramp, per_connection=300 * MB, seconds=3) == [2] * 31


def test_doubles_every_interval_while_connections_are_slow():
    ramp = ConnectionRamp(16, start=2, fast=32 * MB, interval=0.3)
    limits = feed(ramp, per_connection=512 * 1024, seconds=2)
    assert limits[0] == 2 and limits[-1] == 16
    changes = [limits[i] for i in range(1, len(limits)) if limits[i] != limits[i - 1]]
    assert changes == [4, 8, 16]
    assert limits.index(16) <= 12  # all 16 within about a second (3 intervals and change)


def test_never_more_than_the_maximum_and_a_maximum_of_one_is_kept():
    assert feed(ConnectionRamp(5, start=2, fast=32 * MB), 1000, seconds=3)[-1] == 5
    assert set(feed(ConnectionRamp(1, start=2, fast=32 * MB), 1000, seconds=1)) == {1}


def test_hold_stops_the_ramp():
    ramp = ConnectionRamp(16, start=2, fast=32 * MB, interval=0.3)
    feed(ramp, per_connection=1000, seconds=0.35)
    assert ramp.limit == 4
    ramp.hold()
    assert ramp.held and set(feed(ramp, per_connection=1000, seconds=2)) == {4}


def test_wait_says_when_the_next_decision_is_due():
    """The engine sleeps exactly until then, so the ramp's length is not rounded up to its poll."""
    ramp = ConnectionRamp(16, start=4, fast=32 * MB, interval=0.1)
    assert ramp.wait(10.0) == 0.0  # no mark yet: decide now
    ramp.update(10.0, 0, 4)
    assert abs(ramp.wait(10.03) - 0.07) < 1e-9
    assert ramp.wait(10.2) == 0.0
    ramp.update(10.2, 1000, 4)  # slow: doubles
    assert ramp.limit == 8
    ramp.hold()
    assert ramp.wait(10.25) is None  # held: no more decisions
    full = ConnectionRamp(4, start=4)
    assert full.wait(0.0) == 0.0  # at the maximum, but fewer may still be tried


def test_a_machine_bound_download_halves_to_the_floor_and_stays_there():
    """Through a local proxy every connection is fast and the total is what this machine can
    take: 8 connections do no better than 2, so 2 it is (less CPU: fewer threads)."""
    ramp = ConnectionRamp(16, start=8, fast=32 * MB, interval=0.1)
    limits = feed(ramp, per_connection=300 * MB, total=600 * MB, seconds=3)
    assert limits[0] == 8 and limits[-1] == FLOOR
    assert set(limits[limits.index(FLOOR) :]) == {FLOOR}


def test_a_shrink_that_loses_speed_is_undone_for_good():
    """Each connection fast (40 MB/s) but held back by the network: halving halves the total,
    so the old number comes back and no further shrink is tried."""
    ramp = ConnectionRamp(16, start=8, fast=32 * MB, interval=0.1)
    limits = feed(ramp, per_connection=40 * MB, seconds=3)
    assert 4 in limits  # it was tried
    assert limits[-15:] == [8] * 15
    assert ramp.wait(100.0) == 0.0  # below the maximum: still decides, but only upward


def test_a_busy_machine_adds_no_connections_even_when_each_looks_slow():
    """Under load each of 8 connections may move under FAST only because this machine cannot
    keep up: with the download using a core, more connections would take more of what is short."""
    ramp = ConnectionRamp(16, start=8, fast=32 * MB, interval=0.1)
    limits = feed(ramp, per_connection=300 * MB, total=240 * MB, seconds=2, cores=BUSY + 0.2)
    assert max(limits) == 8 and limits[-1] == FLOOR
    idle = ConnectionRamp(16, start=8, fast=32 * MB, interval=0.1)  # the same, CPU to spare
    assert feed(idle, per_connection=30 * MB, seconds=0.5)[-1] == 16


def test_after_a_shrink_that_held_only_a_clear_fall_in_speed_adds_connections():
    ramp = ConnectionRamp(16, start=8, fast=32 * MB, interval=0.1)
    feed(ramp, per_connection=300 * MB, total=600 * MB, seconds=1)
    assert ramp.limit == FLOOR
    # Slower per connection than FAST, but the total as before: no reason to add any.
    now, done = 1.2, 0
    for _ in range(10):
        done += int(500 * MB * 0.1)
        now += 0.1
        ramp.update(now, done, ramp.limit)
    assert ramp.limit == FLOOR
    # The server slows each connection down to 1 MB/s: the total falls, the ramp climbs again.
    for _ in range(6):
        done += int(1 * MB * ramp.limit * 0.1)
        now += 0.1
        ramp.update(now, done, ramp.limit)
    assert ramp.limit == 16
