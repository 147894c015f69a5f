"""Every phrase of the corpus rings when it says (first and second ring), or is refused with the
expected reason."""

from __future__ import annotations

import pytest

from bot.reminders.errors import ReminderInputError
from bot.reminders.when import parse_when
from tests.reminders.corpus import Row, rows

ROWS = rows()


def test_the_corpus_is_big_enough_and_bilingual() -> None:
    chinese = [r for r in ROWS if any("\u4e00" <= ch <= "\u9fff" for ch in r.phrase)]
    assert len(ROWS) >= 300 and len(chinese) >= 100


def rings(row: Row) -> tuple[str, str, str]:
    plan = parse_when(row.phrase, row.now, row.zone)
    zone = plan.zone
    first = plan.due.astimezone(zone)
    second = "-"
    if plan.recurrence is not None:
        following = plan.recurrence.next_after(plan.due, zone, anchor=plan.due)
        if following is not None:
            second = f"{following.astimezone(zone):%a %Y-%m-%d %H:%M}"
    return f"{first:%a %Y-%m-%d %H:%M}", second, plan.text


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.line}:{r.phrase}" for r in ROWS])
def test_phrase(row: Row) -> None:
    if row.problem is not None:
        with pytest.raises(ReminderInputError) as error:
            parse_when(row.phrase, row.now, row.zone)
        assert error.value.problem.value == row.problem
        return
    assert rings(row) == (row.first, row.second, row.text)
