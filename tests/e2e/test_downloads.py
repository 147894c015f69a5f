"""``/download`` end to end: the real bot process, the emulator, and a real local origin.

Files are random bytes; every delivered document is checked by sha256 against what the origin
served. Slow downloads use the origin's per-connection ``rate`` so that there is time to press
Cancel, queue a third download, or kill the bot mid-way.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import ADMIN, GROUP, OTHER, STRANGER, USER

pytestmark = pytest.mark.timeout(120)


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_for(
    emulator: BotApiEmulator, chat: int, request: Message, timeout: float = 60
) -> Message:
    return emulator.wait_for(
        lambda: next(
            (
                m
                for m in emulator.bot_messages(chat)
                if m.document and m.reply_to == request.message_id
            ),
            None,
        ),
        timeout,
        f"the document answering message {request.message_id}",
    )


def status_for(emulator: BotApiEmulator, chat: int, request: Message) -> Message:
    """The status message: the bot's first reply to the request."""
    return emulator.wait_for(
        lambda: next(
            (m for m in emulator.bot_messages(chat) if m.reply_to == request.message_id), None
        ),
        10,
        "the status message",
    )


def wait_text(emulator: BotApiEmulator, message: Message, needle: str, timeout: float = 30) -> str:
    def current() -> str | None:
        text = emulator.get_message(message.chat_id, message.message_id).text or ""
        return text if needle in text else None

    return emulator.wait_for(current, timeout, f"{needle!r} in message {message.message_id}")


def texts_of(emulator: BotApiEmulator, message: Message) -> list[str]:
    return [
        text or ""
        for _, text, _ in emulator.get_message(message.chat_id, message.message_id).history
    ]


def children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_small_file_arrives_as_document_with_matching_bytes(emulator, make_bot, origin) -> None:
    make_bot()
    data = payload(700_000)
    origin.add_file("/report.pdf", data)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/report.pdf')}")
    status = status_for(emulator, USER, sent)
    assert status.date - sent.date <= 1.5  # answered at once, before any byte moves
    document = document_for(emulator, USER, sent)
    assert document.document["file_name"] == "report.pdf"
    assert document.document["sha256"] == sha(data)
    assert sha(data) in document.caption and "683.6 KB" in document.caption
    final = wait_text(emulator, status, "✅")
    assert "sent below" in final
    assert any(
        c.params.get("action") == "upload_document" for c in emulator.calls_of("sendChatAction")
    )


def test_file_over_upload_limit_is_kept_with_path_and_link(emulator, make_bot, origin) -> None:
    bot = make_bot(max_upload_mb="1", public_base_url="https://files.example.org/dl")
    data = payload(1_600_000, seed=2)
    origin.add_file("/big.iso", data)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/big.iso')}")
    status = status_for(emulator, USER, sent)
    early = wait_text(emulator, status, "upload limit")
    assert "1.5 MB is over the 1.0 MB upload limit: it will be kept on the server." in early
    kept = emulator.wait_reply(USER, status, contains="kept on the server", timeout=60)
    lines = kept.text.splitlines()
    # The server's own path is for bot admins only (USER is not one): the link is what they get.
    assert str(bot.data_dir) not in kept.text
    folder = lines[1].removeprefix("https://files.example.org/dl/").removesuffix("/big.iso")
    assert lines[1] == f"https://files.example.org/dl/{folder}/big.iso"
    [path] = list(bot.data_dir.rglob(f"{folder}/big.iso"))
    assert path.is_file() and sha(path.read_bytes()) == sha(data)
    assert len(path.parent.name) >= 20  # an unguessable folder per download
    assert not any(m.document for m in emulator.bot_messages(USER))


def test_progress_edits_are_at_least_the_interval_apart(emulator, make_bot, origin) -> None:
    make_bot(progress_interval="1")
    data = payload(500_000, seed=3)
    origin.add_file("/slow.bin", data, ranges=False, rate=100_000)  # one stream, about 5 s
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/slow.bin')}")
    document = document_for(emulator, USER, sent)
    assert document.document["sha256"] == sha(data)
    status = status_for(emulator, USER, sent)
    history = emulator.get_message(USER, status.message_id).history
    progress = [text for _, text, _ in history if text and "%" in text]
    assert len(progress) >= 2, history
    times = [t for t, _, _ in history]
    gaps = [
        b - a for a, b in zip(times[1:], times[2:], strict=False)
    ]  # edits after the first answer
    assert gaps and min(gaps) >= 0.95, gaps
    shown = [(text, str(markup)) for _, text, markup in history]  # the Cancel button counts too
    assert all(a != b for a, b in zip(shown, shown[1:], strict=False))  # never an unchanged edit
    assert not [c for c in emulator.calls_of("editMessageText") if c.status == 400]


def test_requester_cancels_with_the_button(emulator, make_bot, origin) -> None:
    bot = make_bot()
    origin.add_file("/long.bin", payload(2_000_000), ranges=False, rate=50_000)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/long.bin')}")
    status = status_for(emulator, USER, sent)
    wait_text(emulator, status, "⬇️")
    query = emulator.press_button(emulator.get_message(USER, status.message_id), USER)
    answer = emulator.wait_for(lambda: emulator.callback_answer(query), 10, "the button answer")
    assert "Cancelling d1" in answer["text"]
    final = wait_text(emulator, status, "🚫")
    assert "cancelled by @user42" in final
    assert not emulator.get_message(USER, status.message_id).buttons
    leftovers = list((bot.data_dir / "downloads").rglob("*"))
    assert not [p for p in leftovers if p.is_file()], leftovers  # the partial file is removed


def test_in_group_a_member_may_not_cancel_but_a_group_admin_may(emulator, make_bot, origin) -> None:
    make_bot()
    origin.add_file("/long.bin", payload(2_000_000), ranges=False, rate=50_000)
    sent = emulator.send_text(
        GROUP, USER, f"/download@{emulator.bot_username} {origin.url('/long.bin')}"
    )
    status = status_for(emulator, GROUP, sent)
    wait_text(emulator, status, "⬇️")
    refused = emulator.press_button(emulator.get_message(GROUP, status.message_id), OTHER)
    answer = emulator.wait_for(lambda: emulator.callback_answer(refused), 10, "the button answer")
    assert answer["text"].startswith("Only @user42 or an admin can cancel d1")
    assert "⬇️" in emulator.get_message(GROUP, status.message_id).text  # still running

    emulator.set_member_status(GROUP, OTHER, "administrator")
    allowed = emulator.press_button(emulator.get_message(GROUP, status.message_id), OTHER)
    emulator.wait_for(lambda: emulator.callback_answer(allowed), 10, "the button answer")
    assert "cancelled by @user43" in wait_text(emulator, status, "🚫")


def test_anonymous_admins_are_told_apart_by_their_group(emulator, make_bot, origin) -> None:
    """Telegram sends every anonymous admin's message from one shared user; the group tells them apart."""
    group2, channel = GROUP - 1, GROUP - 2
    make_bot(daily_quota_mb="1", allowed_users=f"{USER},{OTHER},{GROUP},{group2}")
    origin.add_file("/part.bin", payload(700_000, seed=20))
    for group in (GROUP, group2):  # 0.7 MB each: one shared 1 MB quota would refuse the second
        sent = emulator.send_text(
            group,
            OTHER,
            f"/download@{emulator.bot_username} {origin.url('/part.bin')}",
            as_chat=group,
        )
        document_for(emulator, group, sent)
        assert "@GroupAnonymousBot" not in (status_for(emulator, group, sent).text or "")

    origin.add_file("/long.bin", payload(900_000), ranges=False, rate=30_000)  # within USER's quota
    sent = emulator.send_text(
        GROUP, USER, f"/download@{emulator.bot_username} {origin.url('/long.bin')}"
    )
    status = status_for(emulator, GROUP, sent)
    wait_text(emulator, status, "⬇️")
    ref = "d3"
    by_channel = emulator.send_text(
        GROUP, OTHER, f"/cancel@{emulator.bot_username} {ref}", as_chat=channel
    )
    assert emulator.wait_reply(GROUP, by_channel).text.startswith(
        f"Only @user42 or an admin can cancel {ref}"
    )
    by_other_group = emulator.send_text(
        group2, OTHER, f"/cancel@{emulator.bot_username} {ref}", as_chat=group2
    )
    assert (
        emulator.wait_reply(group2, by_other_group).text
        == f"There is no download {ref} in this chat."
    )
    assert "⬇️" in emulator.get_message(GROUP, status.message_id).text  # still running
    by_admin = emulator.send_text(
        GROUP, OTHER, f"/cancel@{emulator.bot_username} {ref}", as_chat=GROUP
    )
    assert emulator.wait_reply(GROUP, by_admin).text == f"Cancelling {ref}."
    assert f"cancelled by Group {GROUP}" in wait_text(emulator, status, "🚫")


def test_queue_holds_the_third_download_until_one_finishes(emulator, make_bot, origin) -> None:
    make_bot()  # defaults: 2 at once per user
    files = {
        "/a.bin": payload(250_000, 4),
        "/b.bin": payload(1_500_000, 5),
        "/c.bin": payload(100_000, 6),
    }
    origin.add_file("/a.bin", files["/a.bin"], ranges=False, rate=100_000)
    origin.add_file("/b.bin", files["/b.bin"], ranges=False, rate=100_000)
    origin.add_file("/c.bin", files["/c.bin"])
    requests = {}
    for path in files:
        requests[path] = emulator.send_text(USER, USER, f"/download {origin.url(path)}")
        status_for(emulator, USER, requests[path])
    third = status_for(emulator, USER, requests["/c.bin"])
    # It waits for the person's own two running downloads (a slot is free overall), and says so.
    waiting = "your other downloads are running"
    wait_text(emulator, third, waiting)
    first_doc = document_for(emulator, USER, requests["/a.bin"])
    third_doc = document_for(emulator, USER, requests["/c.bin"])
    assert first_doc.message_id < third_doc.message_id
    c_hits = origin.hits("/c.bin")
    assert c_hits, "the third download never reached the origin"
    assert third_doc.document["sha256"] == sha(files["/c.bin"])
    wait_text(emulator, third, "✅")
    history = texts_of(emulator, third)
    assert history.index(next(t for t in history if waiting in t)) < len(history) - 1

    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads"))
    assert "d1 a.bin — ✅" in listing.text and "d3 c.bin — ✅" in listing.text


def test_stranger_and_private_address_are_refused(emulator, make_bot, origin) -> None:
    make_bot(download_allow_networks="")
    origin.add_file("/f.bin", payload(1000))
    sent = emulator.send_text(STRANGER, STRANGER, f"/download {origin.url('/f.bin')}")
    assert str(STRANGER) in emulator.wait_reply(STRANGER, sent).text
    assert not origin.hits("/f.bin")

    sent = emulator.send_text(USER, USER, f"/download {origin.url('/f.bin')}")
    status = status_for(emulator, USER, sent)
    final = wait_text(emulator, status, "❌")
    assert "127.0.0.1" in final and ("private" in final or "not allowed" in final)
    sent = emulator.send_text(USER, USER, "/download http://169.254.169.254/latest/meta-data/")
    final = wait_text(emulator, status_for(emulator, USER, sent), "❌")
    assert "169.254.169.254" in final
    assert not origin.hits("/f.bin")


def test_group_download_by_reply_to_a_link(emulator, make_bot, origin) -> None:
    make_bot()
    data = payload(200_000, seed=7)
    origin.add_file("/shared.zip", data)
    link = emulator.send_text(GROUP, OTHER, f"look at this {origin.url('/shared.zip')}")
    command = emulator.send_text(GROUP, USER, "/download", reply_to=link.message_id)
    document = document_for(emulator, GROUP, command)
    assert document.document["sha256"] == sha(data)
    # The link alone, in a group, started nothing.
    assert not [m for m in emulator.bot_messages(GROUP) if m.reply_to == link.message_id]


def test_bare_link_in_private_chat_starts_a_download(emulator, make_bot, origin) -> None:
    make_bot()
    data = payload(50_000, seed=8)
    origin.add_file("/notes.txt", data)
    sent = emulator.send_text(USER, USER, origin.url("/notes.txt"))
    assert document_for(emulator, USER, sent).document["sha256"] == sha(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/download", "Usage: /download URL"),
        ("/download hello world", "doesn't look like a link"),
        ("/download ftp://example.com/file", "http"),
        ("/download file:///etc/passwd", "http"),
        ("/download javascript:alert(1)", "http"),
        ("/download " + "x" * 5000, "too long"),
    ],
)
def test_bad_input_gets_usage_and_starts_nothing(emulator, bot, text: str, expected: str) -> None:
    sent = emulator.send_text(USER, USER, text)
    reply = emulator.wait_reply(USER, sent)
    assert expected in reply.text
    assert "Example: /download https://" in reply.text
    assert not [m for m in emulator.bot_messages(USER) if (m.text or "").startswith("🔎")]


def test_credentials_in_url_work_but_never_show(emulator, make_bot, origin) -> None:
    bot = make_bot()
    data = payload(30_000, seed=9)
    origin.add_file("/private.bin", data)
    url = origin.url("/private.bin").replace("http://", "http://alice:Sup3rSecretPw@")
    sent = emulator.send_text(USER, USER, f"/download {url}")
    document = document_for(emulator, USER, sent)
    assert document.document["sha256"] == sha(data)
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads"))
    shown = (
        " ".join((m.text or "") + (m.caption or "") for m in emulator.bot_messages(USER))
        + listing.text
    )
    assert "Sup3rSecretPw" not in shown
    bot.terminate()
    assert "Sup3rSecretPw" not in bot.output


def test_size_limit_and_daily_quota_refusals_say_which_and_by_how_much(
    emulator, make_bot, origin
) -> None:
    make_bot(max_file_mb="1", daily_quota_mb="2")
    origin.add_file("/huge.bin", payload(1_572_864, seed=10))  # 1.5 MB
    origin.add_file("/part.bin", payload(900_000, seed=11))
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/huge.bin')}")
    refusal = wait_text(emulator, status_for(emulator, USER, sent), "❌")
    assert "over the 1.0 MB limit (MAX_FILE_MB) by 512.0 KB" in refusal
    assert all(h.range == "bytes=0-0" for h in origin.hits("/huge.bin"))  # only the probe

    for _ in range(2):
        sent = emulator.send_text(USER, USER, f"/download {origin.url('/part.bin')}")
        document_for(emulator, USER, sent)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/part.bin')}")
    refusal = wait_text(emulator, status_for(emulator, USER, sent), "❌")
    assert "daily quota of 2.0 MB" in refusal


def slow_download_under_way(emulator, origin, path: str, seed: int, fraction: float):
    """A 2.4 MB download at 40 kB/s per connection, once ``fraction`` of it has moved."""
    data = payload(2_400_000, seed=seed)
    origin.add_file(path, data, rate=40_000)
    sent = emulator.send_text(USER, USER, f"/download {origin.url(path)}")
    status = status_for(emulator, USER, sent)
    emulator.wait_for(
        lambda: origin.bytes_sent(path) >= len(data) * fraction, 60, f"{fraction:.0%} transferred"
    )
    wait_text(emulator, status, "%")
    return data, sent, status


def test_kill_9_mid_download_then_restart_delivers_the_right_bytes(
    emulator, make_bot, origin
) -> None:
    bot = make_bot(progress_interval="1")
    data, sent, status = slow_download_under_way(
        emulator, origin, "/movie.mkv", seed=12, fraction=0.5
    )
    emulator.wait_for(
        lambda: list((bot.data_dir / "downloads").rglob("*.part")), 10, "a partial file"
    )
    workers = children(bot.proc.pid)
    assert workers, "the download should run in a child process"
    bot.kill()
    # No orphan may keep writing the .part file that the restarted bot resumes.
    emulator.wait_for(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers),
        10,
        "the download process to die with the bot",
    )
    sent_before_restart = origin.bytes_sent("/movie.mkv")
    bot.start()
    document = document_for(emulator, USER, sent, timeout=90)
    assert document.document["sha256"] == sha(data)
    assert any("Resumed after restart" in t for t in texts_of(emulator, status))
    # Only what was missing moved again, plus what arrived after the last checkpoint (the engine
    # records progress once a second): far less than the whole file.
    moved_after = origin.bytes_sent("/movie.mkv") - sent_before_restart
    assert moved_after < 0.8 * len(data), (moved_after, len(data))
    assert len([m for m in emulator.bot_messages(USER) if m.document]) == 1


def test_sigterm_mid_download_pauses_cleanly_and_the_restart_resumes(
    emulator, make_bot, origin
) -> None:
    bot = make_bot(progress_interval="1")
    data, sent, _status = slow_download_under_way(
        emulator, origin, "/talk.mp4", seed=21, fraction=0.3
    )
    assert bot.terminate() < 10
    sent_before_restart = origin.bytes_sent("/talk.mp4")
    assert "paused for shutdown" in bot.output
    noise = [line for line in bot.output.splitlines() if " ERROR " in line or "Traceback" in line]
    assert not noise, noise  # a stop with downloads running is routine, not an error

    bot.start()
    document = document_for(emulator, USER, sent, timeout=90)
    assert document.document["sha256"] == sha(data)
    # A clean stop records everything written, so only what was missing moves again (plus what
    # was in flight on the cut connections).
    moved_after = origin.bytes_sent("/talk.mp4") - sent_before_restart
    # In flight on cut connections: up to two 16 KiB writes on each of 16 (the default).
    assert moved_after <= len(data) - sent_before_restart + 16 * 32 * 1024, (
        moved_after,
        sent_before_restart,
    )


def test_several_links_in_one_message_start_several_downloads(emulator, make_bot, origin) -> None:
    make_bot()
    files = {"/one.txt": payload(20_000, 13), "/two.txt": payload(30_000, 14)}
    for path, data in files.items():
        origin.add_file(path, data)
    sent = emulator.send_text(USER, USER, "/download " + " ".join(origin.url(p) for p in files))
    documents = emulator.wait_for(
        lambda: (
            [m for m in emulator.bot_messages(USER) if m.document and m.reply_to == sent.message_id]
            if len([m for m in emulator.bot_messages(USER) if m.document]) >= 2
            else None
        ),
        60,
        "two documents",
    )
    assert sorted(d.document["sha256"] for d in documents) == sorted(sha(d) for d in files.values())


def test_stats_for_bot_admins_only(emulator, make_bot, origin) -> None:
    make_bot()
    origin.add_file("/s.bin", payload(10_000, 15))
    document_for(
        emulator, USER, emulator.send_text(USER, USER, f"/download {origin.url('/s.bin')}")
    )
    refused = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/stats"))
    assert "admins" in refused.text and "Up " not in refused.text
    report = emulator.wait_reply(ADMIN, emulator.send_text(ADMIN, ADMIN, "/stats"))
    for needle in (
        "Errand ",
        "Up ",
        "Downloads: 0 running, 0 queued",
        "Downloaded today: 9.8 KB",
        "Timers and reminders pending: 0",
        "Disk free:",
    ):
        assert needle in report.text, report.text


def test_editing_a_download_command_does_not_fetch_again(emulator, make_bot, origin) -> None:
    make_bot()
    data = payload(40_000, seed=16)
    origin.add_file("/once.bin", data)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/once.bin')}")
    document_for(emulator, USER, sent)
    emulator.edit_text(sent, f"/download {origin.url('/once.bin')}?again")
    note = emulator.wait_reply(USER, emulator.bot_messages(USER)[-1], contains="edits")
    assert "/cancel" in note.text
    assert len([m for m in emulator.bot_messages(USER) if m.document]) == 1
    assert (
        len([h for h in origin.hits("/once.bin") if h.range != "bytes=0-0"]) <= 16
    )  # one download's worth


def test_downloads_list_stays_in_its_chat(emulator, make_bot, origin) -> None:
    make_bot()
    origin.add_file("/secret-invoice.pdf", payload(5_000, seed=17))
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/secret-invoice.pdf')}")
    document_for(emulator, USER, sent)
    in_group = emulator.wait_reply(GROUP, emulator.send_text(GROUP, USER, "/downloads"))
    assert "secret-invoice" not in in_group.text
    in_private = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads"))
    assert "d1 secret-invoice.pdf — ✅" in in_private.text


def test_unknown_size_is_stopped_at_the_daily_quota(emulator, make_bot, origin) -> None:
    bot = make_bot(daily_quota_mb="1")
    origin.add_file(
        "/stream.bin", payload(1_600_000, seed=18), ranges=False, length=False
    )  # size unknown
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/stream.bin')}")
    refusal = wait_text(emulator, status_for(emulator, USER, sent), "❌", timeout=60)
    assert "it would exceed your daily quota of 1.0 MB (0 B used today)" in refusal
    assert not [m for m in emulator.bot_messages(USER) if m.document]
    assert not [p for p in (bot.data_dir / "downloads").rglob("*") if p.is_file()]
