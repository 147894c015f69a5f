"""Sizes, speeds, durations, dates and language tags, formatted per language by Babel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import i18n
from bot.humanize import human_duration, human_size, human_speed
from bot.telegram import dates

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "en",
            [
                "5 sec",
                "1 min 30 sec",
                "1 hr 2 min",
                "1 day 1 hr",
                "0 sec",
                "1.5 KB",
                "1.5 GB",
                "3.0 MB/s",
            ],
        ),
        (
            "zh",
            ["5秒", "1分钟30秒", "1小时2分钟", "1天1小时", "0秒", "1.5 KB", "1.5 GB", "3.0 MB/秒"],
        ),
    ],
)
def test_units_in_each_language(code: str, expected: list[str]) -> None:
    with i18n.use(code):
        got = [
            human_duration(5),
            human_duration(90),
            human_duration(3725),
            human_duration(90000),
            human_duration(0),
            human_size(1536),
            human_size(1.5 * 2**30),
            human_speed(3 * 2**20),
        ]
    assert got == expected


def test_the_language_is_the_current_one_only_inside_use() -> None:
    with i18n.use("zh"):
        assert human_duration(300) == "5分钟"
        with i18n.use("en"):
            assert human_duration(300) == "5 min"
        assert human_duration(300) == "5分钟"
    assert human_duration(300) == "5 min"


@pytest.mark.parametrize(
    ("code", "later", "expected"),
    [
        ("en", timedelta(hours=2), "20:00"),
        ("zh", timedelta(hours=2), "20:00"),
        ("en", timedelta(days=2), "Tue 18:00"),
        ("zh", timedelta(days=2), "周二 18:00"),
        ("en", timedelta(days=25), "Thu, Dec 24 18:00"),
        ("zh", timedelta(days=25), "12月24日周四 18:00"),
        ("zh", timedelta(days=60), "2027年1月28日周四 18:00"),
    ],
)
def test_dates_as_near_as_they_are(code: str, later: timedelta, expected: str) -> None:
    with i18n.use(code):
        assert dates.short(NOW + later, "Asia/Shanghai", NOW) == expected


def test_absolute_dates() -> None:
    moment = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    with i18n.use("en"):
        assert dates.absolute(moment, "Asia/Shanghai") == "Thu 2026-12-24 18:00"
    with i18n.use("zh"):
        assert dates.absolute(moment, "Asia/Shanghai") == "2026年12月24日 周四 18:00"


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("zh", "zh"),
        ("zh-hans", "zh"),
        ("zh-cn", "zh"),
        ("zh-sg", "zh"),
        ("zh-Hans-CN", "zh"),
        ("zh-tw", None),
        ("zh-hk", None),
        ("zh-hant", None),
        ("en", "en"),
        ("en-gb", "en"),
        ("de", None),
        ("", None),
        (None, None),
        ("not a tag", None),
    ],
)
def test_telegram_language_codes(tag: str | None, code: str | None) -> None:
    assert i18n.by_tag(tag) == code


def test_unknown_code_is_english() -> None:
    assert i18n.language("xx").code == "en" and i18n.language(None).code == "en"
