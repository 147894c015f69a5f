"""Every reason the download core gives is worded in the chat, in English and in Chinese."""

from __future__ import annotations

import re

import pytest

from bot.downloads.reasons import Reason, Why
from bot.i18n import use
from bot.telegram.download_reasons import WORDS, explain, explain_stored
from tests.downloads.test_reasons import sample

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_code_has_wording() -> None:
    assert set(WORDS) | {Reason.OTHER} == set(Reason)


@pytest.mark.parametrize("code", [c for c in Reason if c is not Reason.OTHER])
def test_english_in_the_chat_is_the_core_sentence(code: Reason) -> None:
    why = sample(code)
    assert explain(why) == why.english()


@pytest.mark.parametrize("code", [c for c in Reason if c is not Reason.OTHER])
def test_chinese_wording_is_chinese_and_complete(code: Reason) -> None:
    why = sample(code)
    with use("zh"):
        text = explain(why)
    assert CJK.search(text) and "{" not in text, text
    for value in why.params.values():  # every parameter shows
        if isinstance(value, str):
            assert value in text, (value, text)


def test_sizes_durations_and_causes_follow_the_language() -> None:
    slow = Why.of(Reason.TOO_SLOW, speed_bps=100, window_seconds=120)
    gave_up = Why.of(
        Reason.RETRIES_EXHAUSTED,
        Why.of(Reason.HTTP_STATUS, status=503, phrase="Service Unavailable"),
        tries=6,
    )
    with use("zh"):
        assert explain(slow) == "太慢了：2分钟内低于 100 B/秒"
        assert explain(gave_up) == "服务器返回 HTTP 503 Service Unavailable（试了 6 次，已放弃）"
        assert (
            explain(Why.of(Reason.ONE_CONNECTION, Why.of(Reason.NO_RANGES)))
            == "改用单连接：服务器不支持分段下载"
        )
    assert explain(slow) == "too slow: less than 100 B/s for 2 min"


def test_text_without_a_code_and_stored_rows() -> None:
    assert explain("item 2 of the 5 on the page") == "item 2 of the 5 on the page"
    assert explain(Why.text("HTTP 404")) == "HTTP 404"
    stored = Why.of(Reason.PRIVATE_ADDRESS, host="10.1.2.3").dump()
    with use("zh"):
        assert explain_stored(stored) == "已拒绝：10.1.2.3 是内网地址（不允许访问）"
        assert explain_stored("an old row's words") == "an old row's words"
        assert explain_stored(None) == "失败"
