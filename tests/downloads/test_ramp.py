"""The connection ramp: few connections on a fast link, all of them on slow ones, none after 429."""

from __future__ import annotations

from bot.downloads.ramp import ConnectionRamp

MB = 1 << 20


def feed(
    ramp: ConnectionRamp, per_connection: float, seconds: float, step: float = 0.1
) -> list[int]:
    """Simulate ``seconds`` of transfer where every open connection moves ``per_connection`` B/s."""
    limits, done, now = [], 0, 0.0
    while now <= seconds + 1e-9:
        limit = ramp.update(now, int(done), ramp.limit)
        limits.append(limit)
        done += per_connection * limit * step
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
    assert full.wait(0.0) is None  # already at the maximum
