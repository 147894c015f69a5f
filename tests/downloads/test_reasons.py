"""Reasons as codes with parameters: their English sentence, how a job row keeps them, how they
cross the pipe from the download process."""

from __future__ import annotations

import pickle
import string

import pytest

from bot.downloads import errors
from bot.downloads.errors import DownloadError, FileChanged, RetriesExhausted, why_of
from bot.downloads.reasons import ENGLISH, Param, Reason, Why


def sample(code: Reason) -> Why:
    """``code`` with a plausible value for every placeholder of its sentence."""
    params: dict[str, Param] = {}
    cause = None
    for _, name, _, _ in string.Formatter().parse(ENGLISH[code]):
        if name is None:
            continue
        if name == "cause":
            cause = Why.of(Reason.TIMED_OUT)
        elif name.endswith("_bytes"):
            params[name] = 5 * 1024 * 1024
        elif name.endswith("_bps"):
            params[name] = 2048
        elif name.endswith("_seconds"):
            params[name] = 90
        elif name in ("status", "limit", "tries", "pending", "first", "last", "expected", "actual"):
            params[name] = 7
        else:
            params[name] = f"<{name}>"
    return Why(code, params, cause)


def test_every_code_has_an_english_sentence_and_fills_it() -> None:
    assert set(ENGLISH) == set(Reason)
    for code in Reason:
        text = sample(code).english()
        assert text and "{" not in text, (code, text)  # the fallback shows the params dict


def test_sentences_read_as_before() -> None:
    assert (
        str(DownloadError(Reason.HTTP_STATUS, status=404, phrase="Not Found"))
        == "HTTP 404 Not Found"
    )
    assert str(DownloadError(Reason.HTTP_STATUS, status=599, phrase="")) == "HTTP 599"
    assert (
        str(DownloadError(Reason.NO_ANSWER, seconds=1.5))
        == "the server did not answer within 1.5 s"
    )
    assert (
        str(Why.of(Reason.TOO_SLOW, speed_bps=100, window_seconds=2))
        == "too slow: less than 100 B/s for 2 sec"
    )
    exhausted = RetriesExhausted(
        Reason.RETRIES_EXHAUSTED, Why.of(Reason.CONNECTION_FAILED), tries=6
    )
    assert str(exhausted) == "connection failed (gave up after 6 tries)"
    assert (
        str(Why.of(Reason.TOO_LARGE, size_bytes=3 << 30, limit_bytes=2 << 30))
        == "file is 3.0 GB, over the 2.0 GB limit"
    )


def test_a_plain_string_is_other_text() -> None:
    exc = DownloadError("the page's media is served over rtmp")
    assert exc.code is Reason.OTHER and str(exc) == "the page's media is served over rtmp"
    assert why_of(ValueError("odd")) == Why.text("odd")


@pytest.mark.parametrize("why", [sample(code) for code in Reason])
def test_stored_in_the_error_column_and_read_back(why: Why) -> None:
    assert Why.load(why.dump()) == why


def test_rows_from_before_codes_read_as_their_text() -> None:
    assert Why.load("HTTP 404 Not Found") == Why.text("HTTP 404 Not Found")
    assert Why.load("{not json") == Why.text("{not json")
    assert Why.load('{"code": "no_such_code"}') == Why.text('{"code": "no_such_code"}')
    assert Why.load(None) is None and Why.load("") is None


def test_the_stored_form_is_readable_json() -> None:
    stored = Why.of(Reason.PRIVATE_ADDRESS, host="内网.example").dump()
    assert stored == '{"code":"private_address","params":{"host":"内网.example"}}'


@pytest.mark.parametrize(
    "cls",
    [
        DownloadError,
        FileChanged,
        RetriesExhausted,
        errors.PrivateAddress,
        errors.Refused,
        errors.NetworkFailed,
    ],
)
def test_pickling_keeps_the_class_and_the_reason(cls: type[DownloadError]) -> None:
    exc = cls(Reason.RETRIES_EXHAUSTED, Why.of(Reason.TIMED_OUT), tries=3)
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls and back.why == exc.why and str(back) == str(exc)


def test_the_pipe_form_rebuilds_the_error() -> None:
    """What isolated.py sends for an error: class name and Why.as_dict() (plain data)."""
    from bot.downloads.isolated import IsolatedDownloader

    sent = ("error", "PrivateAddress", Why.of(Reason.PRIVATE_ADDRESS, host="10.0.0.1").as_dict())
    with pytest.raises(errors.PrivateAddress) as caught:
        IsolatedDownloader("http://example.com/x", dest_dir=".")._handle(sent)
    assert caught.value.why == Why.of(Reason.PRIVATE_ADDRESS, host="10.0.0.1")
    with pytest.raises(DownloadError) as other:  # a class name that is not an error: the base class
        IsolatedDownloader("http://example.com/x", dest_dir=".")._handle(
            ("error", "Why", Why.text("x").as_dict())
        )
    assert type(other.value) is DownloadError
