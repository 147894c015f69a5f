"""Media pages give their reasons as codes with parameters (worded in the chat in the reader's
language), from yt-dlp's errors, the survey's child process and the fragment fetcher alike."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from yt_dlp.utils import DownloadError as YtDlpDownloadError
from yt_dlp.utils import ExtractorError, GeoRestrictedError, UnsupportedError

from bot.downloads.errors import DownloadError
from bot.downloads.reasons import Reason, Why
from bot.downloads.transport import make_session
from bot.i18n import use
from bot.media.extract import DETAIL_MAX, no_media_why, plan_from_info
from bot.media.fragments import ByteLedger, FetchOptions, FragmentFetcher
from bot.media.plan import Fragment, MediaRequest
from bot.media.survey import survey_in_child
from bot.telegram.download_reasons import explain
from tests.download_options import LOOPBACK
from tests.origin import Origin


def wrapped(error: ExtractorError) -> YtDlpDownloadError:
    """What ``YoutubeDL.extract_info`` raises: its own DownloadError holding the extractor's
    error."""
    try:
        raise error
    except ExtractorError:
        return YtDlpDownloadError(f"ERROR: {error}", sys.exc_info())


@pytest.mark.parametrize(
    "error, expected",
    [
        (None, Why.of(Reason.MEDIA_NONE)),
        (UnsupportedError("https://example.com/about"), Why.of(Reason.MEDIA_NONE)),
        (
            ExtractorError("No video formats found!"),
            Why.of(Reason.MEDIA_NONE),
        ),  # unexpected: a bug, not news
        (ExtractorError("This video is DRM protected", expected=True), Why.of(Reason.MEDIA_DRM)),
        (
            GeoRestrictedError("The uploader has not made this video available in your country."),
            Why.of(Reason.MEDIA_GEO),
        ),
        (
            ExtractorError("Video unavailable.\n This video is private", expected=True),
            Why.of(Reason.MEDIA_SAID, detail="Video unavailable. This video is private"),
        ),
    ],
)
def test_yt_dlp_errors_become_codes(error, expected) -> None:
    assert no_media_why(error) == expected
    if error is not None:
        assert no_media_why(wrapped(error)) == expected, "seen through yt-dlp's own DownloadError"


def test_yt_dlp_words_are_quoted_short_inside_a_sentence_in_the_readers_language() -> None:
    why = no_media_why(wrapped(ExtractorError("x" * 500, expected=True)))
    assert why.code is Reason.MEDIA_SAID and len(str(why.params["detail"])) == DETAIL_MAX
    with use("zh"):
        assert explain(why).startswith("无法从这个网页获取视频；yt-dlp 提示：xxx")


def test_a_live_stream_is_refused_before_anything_is_fetched() -> None:
    info = {
        "id": "x",
        "title": "live",
        "is_live": True,
        "url": "https://e.com/live.m3u8",
        "protocol": "m3u8",
    }
    with pytest.raises(DownloadError) as caught:
        plan_from_info(info)
    assert caught.value.code is Reason.MEDIA_LIVE


def test_the_survey_child_sends_the_reason_code_over_its_pipe(origin) -> None:
    page = origin.add_page("/nothing.html", "<body><p>No video here.</p></body>")
    with pytest.raises(DownloadError) as caught:
        survey_in_child(page, MediaRequest(extract_timeout=30), LOOPBACK)
    assert caught.value.why == Why.of(Reason.MEDIA_NONE)
    assert "no video or audio found" in str(caught.value)


def test_a_fragment_that_keeps_failing_gives_the_last_failure_as_its_cause(tmp_path: Path) -> None:
    with Origin() as origin:
        url = origin.add_file("/seg0.ts", b"x" * 1000, fail_status=503, fail_times=10)
        session = make_session(LOOPBACK, 2)
        fetcher = FragmentFetcher(
            session,
            [Fragment(url)],
            tmp_path,
            ByteLedger(None),
            FetchOptions(concurrency=1, max_retries=1, backoff=0.01, backoff_max=0.01),
            threading.Event(),
        )
        with pytest.raises(DownloadError) as caught:
            fetcher.run()
        session.close()
    why = caught.value.why
    assert why.code is Reason.FRAGMENT_GAVE_UP and why.params == {"tries": 2}
    assert why.cause == Why.of(Reason.HTTP_STATUS, status=503, phrase="Service Unavailable")
    assert (
        str(caught.value)
        == "a fragment failed: HTTP 503 Service Unavailable (gave up after 2 tries)"
    )
    with use("zh"):
        assert (
            explain(why)
            == "有一个分片下载失败：服务器返回 HTTP 503 Service Unavailable（试了 2 次，已放弃）"
        )
