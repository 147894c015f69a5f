"""What a server's answer means, judged without a server (bot.downloads.checks)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from requests.structures import CaseInsensitiveDict

from bot.downloads.checks import (
    ContentRange,
    RangesUnusable,
    check_ranged,
    check_whole,
    content_range,
    read_probe,
    validator,
)
from bot.downloads.errors import DownloadError, FileChanged, Retryable
from bot.downloads.reasons import Reason

ETAG = '"abc"'


@dataclass
class Answer:
    status_code: int
    headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)
    reason: str | None = None


def answer(status: int, reason: str | None = None, **headers: str) -> Answer:
    return Answer(
        status, CaseInsensitiveDict({k.replace("_", "-"): v for k, v in headers.items()}), reason
    )


@pytest.mark.parametrize(
    "value, parsed",
    [
        ("bytes 0-99/1000", ContentRange(0, 99, 1000)),
        ("bytes 5-9/*", ContentRange(5, 9, None)),
        ("bytes */1000", ContentRange(-1, -1, 1000)),
        ("BYTES 1-2/3", ContentRange(1, 2, 3)),
        ("bits 0-1/2", None),
        ("bytes x-1/2", None),
        ("bytes */*", None),
        ("", None),
        (None, None),
    ],
)
def test_content_range(value: str | None, parsed: ContentRange | None) -> None:
    assert content_range(value) == parsed


def test_validator_prefers_a_strong_etag() -> None:
    assert validator({"ETag": ETAG, "Last-Modified": "Mon"}) == ETAG
    assert validator({"ETag": 'W/"weak"', "Last-Modified": "Mon"}) == "Mon"
    assert validator({}) is None


def test_probe_of_a_ranged_server() -> None:
    facts = read_probe(answer(206, Content_Range="bytes 0-0/5000", ETag=ETAG))
    assert (facts.size, facts.resumable, facts.single_reason, facts.validator) == (
        5000,
        True,
        None,
        ETAG,
    )


@pytest.mark.parametrize(
    "probe, size, reason",
    [
        (answer(200, Content_Length="5000"), 5000, Reason.NO_RANGES),
        (answer(206, Content_Range="bytes 3-3/5000"), None, Reason.BAD_CONTENT_RANGE),
        (
            answer(206, Content_Range="bytes 0-0/5000", Content_Encoding="gzip"),
            5000,
            Reason.COMPRESSED,
        ),
        (answer(200), None, Reason.NO_RANGES),
    ],
)
def test_probe_of_servers_that_get_one_stream(
    probe: Answer, size: int | None, reason: Reason
) -> None:
    facts = read_probe(probe)
    assert facts.size == size and not facts.resumable and facts.single_reason is not None
    assert facts.single_reason.code is reason


def test_probe_of_the_busybox_whole_file_answer_is_ranged() -> None:
    assert read_probe(answer(206, Content_Range="bytes 0-4999/5000")).resumable


def test_a_range_exactly_as_asked_passes() -> None:
    check_ranged(
        answer(206, Content_Range="bytes 100-199/1000", Content_Length="100", ETag=ETAG),
        100,
        199,
        1000,
        ETAG,
    )
    # Going further than asked will do: only the asked part is read.
    check_ranged(answer(206, Content_Range="bytes 100-999/1000"), 100, 199, 1000, ETAG)


@pytest.mark.parametrize(
    "got, raised, code",
    [
        (answer(206, Content_Range="bytes 100-199/2000"), FileChanged, Reason.CHANGED_SIZE),
        (
            answer(206, Content_Range="bytes 100-199/1000", ETag='"new"'),
            FileChanged,
            Reason.CHANGED_ETAG,
        ),
        (answer(206, Content_Range="bytes 0-199/1000"), RangesUnusable, Reason.RANGE_MISMATCH),
        (
            answer(206, Content_Range="bytes 100-199/1000", Content_Length="5"),
            RangesUnusable,
            Reason.RANGE_LENGTH,
        ),
        (
            answer(206, Content_Range="bytes 100-199/1000", Content_Encoding="br"),
            RangesUnusable,
            Reason.RANGE_COMPRESSED,
        ),
        (answer(200, Content_Length="1000"), RangesUnusable, Reason.RANGES_IGNORED),
        (answer(200, Content_Length="1200"), FileChanged, Reason.CHANGED_SIZE),
        (answer(416, Content_Range="bytes */900"), FileChanged, Reason.CHANGED_SIZE),
        (
            answer(416, "Range Not Satisfiable", Content_Range="bytes */1000"),
            DownloadError,
            Reason.HTTP_STATUS,
        ),
        (answer(503, "Service Unavailable"), Retryable, Reason.HTTP_STATUS),
        (answer(404, "Not Found"), DownloadError, Reason.HTTP_STATUS),
    ],
)
def test_every_wrong_ranged_answer_maps_to_an_action(
    got: Answer, raised: type[Exception], code: Reason
) -> None:
    with pytest.raises(raised) as caught:
        check_ranged(got, 100, 199, 1000, ETAG)
    assert caught.value.why.code is code  # type: ignore[attr-defined]


def test_the_status_is_kept_for_retry_after_and_worded() -> None:
    busy = answer(429, "Too Many Requests", Retry_After="3")
    with pytest.raises(Retryable) as caught:
        check_whole(busy, None)
    assert caught.value.response is busy and str(caught.value) == "HTTP 429 Too Many Requests"
    with pytest.raises(DownloadError, match="^HTTP 206 Partial Content$"):
        check_whole(answer(206, "Partial Content"), None)
    with pytest.raises(FileChanged):
        check_whole(answer(200, ETag='"other"'), ETAG)
    check_whole(answer(200, Last_Modified="Mon"), "Mon")
