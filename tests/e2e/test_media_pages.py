"""``/download`` of a page with a video, end to end: the real bot, the emulator, a real media
origin.

The media are made by ffmpeg at set-up (tests/media/media_files.py); yt-dlp reads the pages, the
bot's child process fetches and joins, and the emulator receives a real video or audio upload,
which ffprobe checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import USER
from tests.e2e.test_downloads import children
from tests.media.media_files import DURATION, have_ffmpeg, make_media, probe
from tests.media.origin import MediaOrigin

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not have_ffmpeg(), reason="ffmpeg is not installed (apt-get install ffmpeg)"
    ),
]


def helpers(pid: int) -> list[int]:
    """Child processes started by multiprocessing (the download or survey process), not its
    resource tracker."""
    found = []
    for child in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture
def origin(media_dir: Path) -> Iterator[MediaOrigin]:
    with MediaOrigin(media_dir) as server:
        yield server


def answer(emulator: BotApiEmulator, request: Message, kind: str, timeout: float = 90) -> Message:
    """The bot's ``kind`` message (video, audio, document) answering ``request``."""

    def find():
        for m in emulator.bot_messages(USER):
            if m.reply_to != request.message_id:
                continue
            if kind == "document" and m.document or m.media and m.media["kind"] == kind:
                return m
        return None

    return emulator.wait_for(find, timeout, f"a {kind} answering message {request.message_id}")


def status_text(
    emulator: BotApiEmulator, request: Message, needle: str, timeout: float = 60
) -> str:
    def find():
        for m in emulator.bot_messages(USER):
            if m.reply_to == request.message_id and needle in (m.text or ""):
                return m.text
        return None

    return emulator.wait_for(find, timeout, f"{needle!r} in the status of {request.message_id}")


def test_a_page_with_an_hls_video_arrives_as_a_streamable_video(
    emulator, make_bot, origin, tmp_path
) -> None:
    make_bot()
    page = origin.add_page(
        "/watch.html",
        '<body><video controls><source src="/hls/index.m3u8" '
        'type="application/x-mpegURL"></video></body>',
    )
    sent = emulator.send_text(USER, USER, f"/download {page}")
    video = answer(emulator, sent, "video")
    media = video.media
    assert str(media["params"].get("supports_streaming")).lower() == "true"
    assert media["width"] == 320 and media["height"] == 240
    assert abs(media["duration"] - DURATION) <= 1
    assert media["thumbnail_data"], "a thumbnail went with the video"
    delivered = tmp_path / "delivered.mp4"
    delivered.write_bytes(media["data"])
    facts = probe(delivered)
    assert facts["types"] == ["audio", "video"]
    assert facts["duration"] == pytest.approx(DURATION, abs=0.3)


def test_as_audio_sends_the_audio_and_as_file_keeps_the_page(
    emulator, make_bot, origin, tmp_path
) -> None:
    make_bot()
    page = origin.add_page("/song.html", '<body><video src="/clip.mp4"></video></body>')
    sent = emulator.send_text(USER, USER, f"/download {page} as audio")
    audio = answer(emulator, sent, "audio")
    delivered = tmp_path / "delivered.m4a"
    delivered.write_bytes(audio.media["data"])
    assert probe(delivered)["types"] == ["audio"]
    assert audio.media["title"]

    sent = emulator.send_text(USER, USER, f"/download {page} as file")
    document = answer(emulator, sent, "document")
    assert document.document["file_name"].endswith(".html")


def test_a_page_without_media_says_so_in_one_line(emulator, make_bot, origin) -> None:
    make_bot()
    page = origin.add_page("/about.html", "<body><p>Nothing to watch.</p></body>")
    sent = emulator.send_text(USER, USER, f"/download {page}")
    text = status_text(emulator, sent, "no video or audio found")
    assert "as file" in text
    assert not any(m.document or m.media for m in emulator.bot_messages(USER))


def test_kill_9_mid_hls_then_restart_delivers_the_video(
    emulator, make_bot, origin, tmp_path
) -> None:
    bot = make_bot(progress_interval="1", download_connections="2")
    origin.delay("/hls/seg", 0.4)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/hls/index.m3u8')}")
    emulator.wait_for(
        lambda: len([h for h in origin.hits_under("/hls/seg") if h.finished]) >= 6,
        60,
        "some fragments fetched",
    )
    bot.kill()
    fetched_before = len(origin.hits_under("/hls/seg"))
    origin.delays.clear()
    bot.start()
    video = answer(emulator, sent, "video")
    delivered = tmp_path / "delivered.mp4"
    delivered.write_bytes(video.media["data"])
    assert probe(delivered)["duration"] == pytest.approx(DURATION, abs=0.3)
    total = len(list((origin.root / "hls").glob("seg*.ts")))
    fetched_after = len(origin.hits_under("/hls/seg")) - fetched_before
    assert fetched_after < total, "fragments fetched before the kill were kept"
    assert len([m for m in emulator.bot_messages(USER) if m.media]) == 1


def test_stats_shows_the_yt_dlp_version(emulator, make_bot) -> None:
    import yt_dlp

    from tests.e2e.harness import ADMIN

    make_bot()
    report = emulator.wait_reply(ADMIN, emulator.send_text(ADMIN, ADMIN, "/stats"))
    assert f"yt-dlp {yt_dlp.version.__version__}" in report.text, report.text


def press(emulator: BotApiEmulator, message: Message, user: int, index: int) -> str:
    """Press a button and return the text of the bot's answer to the press."""
    query = emulator.press_button(
        emulator.get_message(message.chat_id, message.message_id), user, index=index
    )
    return emulator.wait_for(lambda: emulator.callback_answer(query), 10, "the button answer")[
        "text"
    ]


def choice_message(emulator: BotApiEmulator, request: Message) -> Message:
    def find():
        for m in emulator.bot_messages(USER):
            if m.reply_to == request.message_id and any(
                b.get("callback_data", "").startswith("dl:media:") for b in m.buttons
            ):
                return m
        return None

    return emulator.wait_for(find, 60, "the choice buttons")


def test_a_page_with_two_qualities_asks_and_the_smaller_one_is_sent(
    emulator, make_bot, origin, tmp_path
) -> None:
    make_bot()
    page = origin.add_page("/two.html", '<body><video src="/hls/master.m3u8"></video></body>')
    sent = emulator.send_text(USER, USER, f"/download {page}")
    question = choice_message(emulator, sent)
    labels = [b["text"] for b in question.buttons]
    assert labels[0].startswith("Best video (240p") and labels[1].startswith("Smaller video (120p")
    assert labels[2].startswith("Audio only") and labels[3] == "Cancel"
    assert not origin.hits_under("/hls/small0"), "nothing is fetched before the choice"
    answer_text = press(emulator, question, USER, 1)
    assert "smaller" in answer_text
    video = answer(emulator, sent, "video")
    assert video.media["width"] == 160 and video.media["height"] == 120
    assert not origin.hits_under("/hls/seg"), "only the chosen rendition was fetched"


def test_without_a_press_the_default_is_taken(emulator, make_bot, origin) -> None:
    make_bot(media_choice_wait="2")
    page = origin.add_page("/two-wait.html", '<body><video src="/hls/master.m3u8"></video></body>')
    sent = emulator.send_text(USER, USER, f"/download {page}")
    question = choice_message(emulator, sent)
    assert "in 2 s" in question.text
    video = answer(emulator, sent, "video")
    assert video.media["width"] == 320


def test_another_member_cannot_choose_for_the_requester(emulator, make_bot, origin) -> None:
    from tests.e2e.harness import OTHER

    make_bot(media_choice_wait="600")
    page = origin.add_page("/two-other.html", '<body><video src="/hls/master.m3u8"></video></body>')
    sent = emulator.send_text(USER, USER, f"/download {page}")
    question = choice_message(emulator, sent)
    said = press(emulator, question, OTHER, 2)
    assert "no download" in said or "Only" in said
    assert "Cancelling" in press(emulator, question, USER, 3)


def test_cancel_mid_hls_stops_fetching_at_once(emulator, make_bot, origin) -> None:
    """By event order, not wall time: the bot answers "Cancelling" after it told the engine to stop,
    so from that answer on, each of the 2 connections may start at most the one fragment it had
    already decided on; and nothing at all once the status says cancelled (the engine has ended)."""
    bot = make_bot(download_connections="2")
    origin.delay("/hls/seg", 0.3)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/hls/index.m3u8')}")
    emulator.wait_for(
        lambda: len([h for h in origin.hits_under("/hls/seg") if h.finished]) >= 3,
        60,
        "some fragments fetched",
    )
    status = next(m for m in emulator.bot_messages(USER) if m.reply_to == sent.message_id)
    cancel_at = next(
        i
        for i, b in enumerate(emulator.get_message(USER, status.message_id).buttons)
        if b.get("callback_data", "").startswith("dl:cancel:")
    )
    said = press(emulator, status, USER, cancel_at)
    assert "Cancelling" in said
    answered = max(c.at for c in emulator.calls_of("answerCallbackQuery"))
    cancelled = emulator.wait_for(
        lambda: next(
            (
                at
                for at, text, _ in emulator.get_message(USER, status.message_id).history
                if text and "🚫" in text
            ),
            None,
        ),
        20,
        "the cancelled status",
    )
    starts = [h.started for h in origin.hits_under("/hls/seg")]
    assert len([s for s in starts if s > answered]) <= 2, (
        "fragments were still requested after Cancel"
    )
    assert max(starts) < cancelled, "a fragment was requested after the status said cancelled"
    leftovers = [p for p in (bot.data_dir / "downloads").rglob("*") if p.is_file()]
    assert not leftovers, leftovers


def test_a_playlist_page_asks_and_all_items_are_capped_by_the_setting(
    emulator, make_bot, origin
) -> None:
    make_bot(media_playlist_max="2")
    page = origin.add_page(
        "/list.html",
        '<video src="/clip.mp4"></video><video src="/hls/index.m3u8"></video>'
        '<video src="/dash/manifest.mpd"></video>',
    )
    sent = emulator.send_text(USER, USER, f"/download {page}")
    question = choice_message(emulator, sent)
    assert "lists 3 items" in question.text
    labels = [b["text"] for b in question.buttons]
    every = next(i for i, label in enumerate(labels) if label.startswith("All "))
    assert labels[every].startswith("All 2 items")
    assert "Fetching 2 items" in press(emulator, question, USER, every)
    videos = emulator.wait_for(
        lambda: (
            (found := [m for m in emulator.bot_messages(USER) if m.media])
            and len(found) >= 2
            and found
        ),
        120,
        "two videos",
    )
    assert len(videos) == 2
    # yt-dlp reads every manifest on the page to list it; the third item's media is never fetched.
    assert not origin.hits_under("/dash/chunk") and not origin.hits_under("/dash/init"), (
        "the third item (over MEDIA_PLAYLIST_MAX) was not fetched"
    )


def test_cancel_while_the_page_is_read_stops_quietly(emulator, make_bot, origin) -> None:
    bot = make_bot()
    page = origin.add_page("/slow-page.html", '<body><video src="/hls/master.m3u8"></video></body>')
    origin.delay("/hls/master.m3u8", 8)  # the survey's yt-dlp waits on the manifest
    sent = emulator.send_text(USER, USER, f"/download {page}")
    emulator.wait_for(
        lambda: origin.hits_under("/hls/master.m3u8"), 30, "the survey reading the manifest"
    )
    assert helpers(bot.proc.pid), "the page is read in a child process"
    status = next(m for m in emulator.bot_messages(USER) if m.reply_to == sent.message_id)
    reply = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/cancel d1"))
    assert "Cancelling d1" in reply.text
    emulator.wait_for(
        lambda: "🚫" in (emulator.get_message(USER, status.message_id).text or ""),
        20,
        "the cancelled status",
    )
    emulator.wait_for(lambda: not helpers(bot.proc.pid), 5, "the survey process to be stopped")
    text = emulator.get_message(USER, status.message_id).text or ""
    assert "Which one" not in text and not emulator.get_message(USER, status.message_id).buttons


def test_a_video_over_the_upload_limit_is_kept_with_a_link(
    emulator, make_bot, origin, media_dir
) -> None:
    import subprocess

    big = media_dir / "big.mp4"  # 2 s of noise, about 3 MB: over MAX_UPLOAD_MB=1
    if not big.exists():
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "nullsrc=s=320x240:r=25:d=2,geq=random(1)*255:128:128",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-qp",
                "20",
                str(big),
            ],
            check=True,
            timeout=120,
        )
    bot = make_bot(max_upload_mb="1", public_base_url="https://files.example.org/dl")
    page = origin.add_page("/big.html", '<body><video src="/big.mp4"></video></body>')
    sent = emulator.send_text(USER, USER, f"/download {page}")

    def kept():
        return next(
            (
                m
                for m in emulator.bot_messages(USER)
                if m.reply_to == sent.message_id and "kept on the server" in (m.text or "")
            ),
            None,
        )

    notice = emulator.wait_for(kept, 90, "the kept-on-the-server notice")
    assert "https://files.example.org/dl/" in notice.text and ".mp4" in notice.text
    assert not any(m.media or m.document for m in emulator.bot_messages(USER))
    kept_files = [p for p in (bot.data_dir / "downloads").rglob("*.mp4")]
    assert kept_files and probe(kept_files[0])["types"] == ["video"]
