"""The countdown's edit pace: flood-safe, and never faster than every 3 seconds."""

from __future__ import annotations

import pytest

from bot.telegram.reminder_notifier import MIN_EDIT_GAP, next_edit_in


@pytest.mark.parametrize(
    ("remaining", "step"),
    [
        (5, None),
        (12, None),
        (14, 10),
        (60, 10),
        (61, 10),
        (64, 60),
        (3600, 60),
        (3601, 60),
        (3604, 3600),
        (86400 * 30, 3600),
    ],
)
def test_pace(remaining: float, step: float | None) -> None:
    assert next_edit_in(remaining) == step


def test_total_edits_of_a_long_timer_are_few_and_spaced() -> None:
    remaining, edits = 2 * 3600.0, []
    while (step := next_edit_in(remaining)) is not None:
        assert step >= MIN_EDIT_GAP
        edits.append(step)
        remaining -= step
    assert len(edits) < 70  # two hours: ~1 hourly, 60 per-minute, 5 in the last minute
