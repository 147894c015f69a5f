"""A Chinese-speaking user hears why a media page was refused, in Chinese, end to end (issue #11).

The real bot against the emulator and a real media origin (tests/media/origin.py): a page whose
video needs ffmpeg when ffmpeg is not on the bot's PATH, an HLS stream under DRM, a page with
nothing to play, and a page listing two videos (the choice buttons and the "item 1 of 2" notice).
bot.media raises codes with parameters; the chat words them in the reader's language; the job
row keeps the code, so /downloads words it again, in whichever language is asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import USER
from tests.media.media_files import have_ffmpeg, make_media
from tests.media.origin import MediaOrigin

pytestmark = pytest.mark.timeout(180)

#: Words of English prose; the technical words a Chinese sentence keeps as they are do not count.
ENGLISH_WORD = re.compile(
    r"\b(?!(?:Errand|ffmpeg|ffprobe|download|as|file|yt|dlp|DRM|HLS|KB|MB)\b)[A-Za-z]{3,}\b"
)
needs_ffmpeg = pytest.mark.skipif(
    not have_ffmpeg(), reason="ffmpeg is not installed (apt-get install ffmpeg)"
)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    folder = (
        make_media(tmp_path_factory.mktemp("media"))
        if have_ffmpeg()
        else tmp_path_factory.mktemp("pages")
    )
    index = folder / "hls" / "index.m3u8"
    if index.exists():  # the same stream behind a FairPlay key: yt-dlp marks every format as DRM
        (folder / "hls" / "drm.m3u8").write_text(
            index.read_text().replace(
                "#EXTINF", '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key"\n#EXTINF', 1
            )
        )
    return folder


@pytest.fixture
def origin(media_dir: Path) -> Iterator[MediaOrigin]:
    with MediaOrigin(media_dir) as server:
        yield server


def ask(emulator: BotApiEmulator, text: str) -> Message:
    """Send ``text`` as the Chinese-speaking user; the bot's first reply (the status message)."""
    return emulator.wait_reply(USER, emulator.send_text(USER, USER, text))


def final(emulator: BotApiEmulator, status: Message, needle: str = "❌") -> str:
    def text() -> str | None:
        shown = emulator.get_message(USER, status.message_id).text or ""
        return shown if needle in shown else None

    return emulator.wait_for(text, 90, f"{needle!r} in the status")


def reason_of(status_text: str) -> str:
    """The reason after the job's head: ``❌ d1 · 127.0.0.1/page.html：<reason>`` (a full-width
    colon in Chinese)."""
    return status_text.split("：", 1)[1]


def test_a_page_needing_ffmpeg_is_refused_in_chinese(
    emulator: BotApiEmulator, make_bot, origin: MediaOrigin, tmp_path: Path
) -> None:
    empty = tmp_path / "no-ffmpeg-here"
    empty.mkdir()
    make_bot(path=str(empty))  # the bot's PATH has no ffmpeg; the test's own PATH keeps it
    emulator.set_user_language(USER, "zh-hans")
    page = origin.add_page("/watch.html", '<body><video src="/clip.mp4"></video></body>')
    text = final(emulator, ask(emulator, f"/download {page}"))
    assert reason_of(text) == (
        "这是一个网页，下载其中的视频需要 ffmpeg，但服务器上没有安装"
        "（/download 网址 as file 可以保存网页本身）"
    ), text
    assert not origin.hits_under("/clip.mp4"), "nothing was fetched"

    emulator.wait_reply(USER, emulator.send_text(USER, USER, "/lang en"))
    listing = ask(emulator, "/downloads").text or ""
    assert "fetching its video needs ffmpeg, which is not installed on the server" in listing, (
        listing
    )


@needs_ffmpeg
def test_drm_and_a_page_without_media_are_worded_in_chinese(
    emulator: BotApiEmulator, make_bot, origin: MediaOrigin
) -> None:
    make_bot()
    emulator.set_user_language(USER, "zh-hans")
    drm = final(emulator, ask(emulator, f"/download {origin.url('/hls/drm.m3u8')}"))
    assert reason_of(drm) == "这个视频受 DRM 保护，Errand 无法下载", drm
    assert not origin.hits_under("/hls/seg"), "no fragment of a DRM stream was fetched"

    page = origin.add_page("/about.html", "<body><p>Nothing to watch.</p></body>")
    nothing = final(emulator, ask(emulator, f"/download {page}"))
    assert (
        reason_of(nothing)
        == "这个网页上没有找到视频或音频（/download 网址 as file 可以保存网页本身）"
    ), nothing

    listing = ask(emulator, "/downloads").text or ""
    assert "受 DRM 保护" in listing and "没有找到视频或音频" in listing, listing
    assert not ENGLISH_WORD.search(
        listing.replace("127.0.0.1/hls/drm.m3u8", "")
        .replace("127.0.0.1/about.html", "")
        .replace("@user", "")
    ), listing


@needs_ffmpeg
def test_a_playlist_page_asks_and_tells_which_item_in_chinese(
    emulator: BotApiEmulator, make_bot, origin: MediaOrigin
) -> None:
    make_bot(media_choice_wait="600", progress_interval="1", download_connections="2")
    emulator.set_user_language(USER, "zh-hans")
    origin.delay(
        "/hls/seg", 0.3
    )  # the first item takes a few seconds: progress (and the notice) shows
    page = origin.add_page(
        "/list.html", '<video src="/hls/index.m3u8"></video><video src="/clip.mp4"></video>'
    )
    request = emulator.send_text(USER, USER, f"/download {page}")

    def question() -> Message | None:
        return next(
            (
                m
                for m in emulator.bot_messages(USER)
                if m.reply_to == request.message_id
                and any(b.get("callback_data", "").startswith("dl:media:") for b in m.buttons)
            ),
            None,
        )

    asked = emulator.wait_for(question, 90, "the choice buttons")
    labels = [b["text"] for b in asked.buttons]
    assert labels == ["最佳视频 ✓", "全部 2 项（每项最佳视频）", "取消"], labels
    assert "找到视频。要哪一个？" in (asked.text or "") and "这个网页列出了 2 项" in (
        asked.text or ""
    ), asked.text
    query = emulator.press_button(emulator.get_message(USER, asked.message_id), USER, index=0)
    said = emulator.wait_for(lambda: emulator.callback_answer(query), 10, "the button's answer")[
        "text"
    ]
    assert said == "正在下载最佳视频。", said

    video = emulator.wait_for(
        lambda: next(
            (
                m
                for m in emulator.bot_messages(USER)
                if m.reply_to == request.message_id and m.media
            ),
            None,
        ),
        120,
        "the video",
    )
    history = [entry[1] or "" for entry in emulator.get_message(USER, asked.message_id).history]
    assert any("ℹ️ 网页上 2 项中的第 1 项" in text for text in history), history
    assert not any("on the page" in text for text in history), history
    assert "用时" in (video.caption or ""), video.caption
    done = final(emulator, asked, "✅")
    assert done.startswith("✅ d1 · Test clip") and done.endswith("，已发在下面。"), done
