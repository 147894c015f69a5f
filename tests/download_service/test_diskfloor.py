"""The disk floor a download of unknown size keeps: the rule that stops it before the disk falls
below its reserve (the download process applies it every few milliseconds; the e2e test on a
small disk is tests/e2e/test_download_limits.py)."""

from __future__ import annotations

from bot.downloads.diskfloor import AHEAD, DiskFloor, Pace, too_low
from bot.downloads.reasons import Reason
from bot.humanize import MiB

FLOOR = DiskFloor(free=5 * MiB, reserve=5 * MiB)


def test_a_download_stops_before_the_disk_reaches_the_floor_at_its_pace() -> None:
    pace = Pace()
    assert pace.look(0.0, 50 * MiB) == 0
    speed = pace.look(0.01, 47 * MiB)  # 3 MiB in 10 ms: 300 MiB/s
    assert speed == 300 * MiB
    assert not too_low(FLOOR, 47 * MiB, speed)
    ahead = int(speed * AHEAD)  # what the next AHEAD seconds would write at that pace
    assert not too_low(FLOOR, FLOOR.free + ahead + 1, speed)
    assert too_low(FLOOR, FLOOR.free + ahead - 1, speed)
    assert too_low(FLOOR, FLOOR.free - 1, 0.0)  # below it, even standing still


def test_the_pace_is_measured_over_a_window_not_one_burst() -> None:
    pace = Pace()
    pace.look(0.0, 50 * MiB)
    for n in range(1, 20):  # 1 MiB every 5 ms, then a burst of 4 MiB in the next 5 ms
        pace.look(n * 0.005, (50 - n) * MiB)
    assert pace.look(0.1, 27 * MiB) < 300 * MiB  # not 4 MiB / 5 ms = 800 MiB/s


def test_only_downloads_of_unknown_size_are_watched() -> None:
    known = DiskFloor(free=5 * MiB, reserve=5 * MiB, size=10 * MiB)
    assert not too_low(known, 0, 0.0)  # its bytes were reserved when it was accepted
    assert not too_low(DiskFloor(free=0, reserve=0), 0, 1e9)  # no reserve, nothing promised
    assert not too_low(None, 0, 0.0)
    assert FLOOR.why.code is Reason.DISK_RESERVE
    assert FLOOR.why.params == {"reserve_bytes": 5 * MiB}
