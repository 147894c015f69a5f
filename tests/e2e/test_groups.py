"""Groups as Telegram runs them, end to end: forum topics, supergroup upgrades, the bot removed or
blocked and added back, and commands addressed by name.

The real ``errandbot run`` process talks to the Bot API emulator, which behaves as Telegram does
when a group changes: topics carry ``message_thread_id``; an upgraded group's old id answers 400
with ``migrate_to_chat_id``; a chat that removed or blocked the bot answers 403. Every test also
checks the bot's log holds no traceback.
"""

from __future__ import annotations

import re

import pytest

from bot.sandbox.emulator import BotApiEmulator, Call, Message
from tests.e2e.harness import GROUP, OTHER, USER, BotProcess, is_ring
from tests.e2e.test_downloads import payload, sha
from tests.origin import Origin

pytestmark = pytest.mark.timeout(120)

OLD_GROUP, NEW_GROUP = -4001, -1004001  # a basic group and the supergroup it becomes
GROUP_ADMIN = 77


def rings(emulator: BotApiEmulator, chat: int, label: str) -> list[Message]:
    """Ring messages (with snooze buttons) in ``chat`` that name ``label``."""
    return [m for m in emulator.bot_messages(chat) if is_ring(m) and label in (m.text or "")]


def wait_ring(emulator: BotApiEmulator, chat: int, label: str, timeout: float = 20) -> Message:
    return emulator.wait_for(
        lambda: next(iter(rings(emulator, chat, label)), None),
        timeout,
        f"the ring of {label!r} in {chat}",
    )


def ref_in(text: str, letter: str = "t") -> str:
    return re.search(rf"\b{letter}\d+\b", text).group(0)


def no_traceback(bot: BotProcess) -> None:
    assert "Traceback" not in bot.output, bot.output[-4000:]


def slow_download(
    emulator: BotApiEmulator, origin: Origin, chat: int, name: str, data: bytes, rate: int
) -> Message:
    """Asks, as USER in ``chat``, for ``name`` served whole (no ranges) at ``rate`` bytes a
    second, and returns its status message once it shows progress."""
    origin.add_file(f"/{name}", data, ranges=False, rate=rate)
    request = emulator.send_text(chat, USER, f"/download {origin.url(f'/{name}')}")
    status = emulator.wait_reply(chat, request)
    emulator.wait_for(
        lambda: "%" in (emulator.get_message(chat, status.message_id).text or ""),
        20,
        "the download to be under way",
    )
    return status


def wait_document(
    emulator: BotApiEmulator,
    chat: int,
    what: str,
    timeout: float = 60,
    reply_to: Message | None = None,
) -> Message:
    """The first document the bot sent in ``chat`` (in reply to ``reply_to``, if given)."""
    return emulator.wait_for(
        lambda: next(
            (
                m
                for m in emulator.bot_messages(chat)
                if m.document and (reply_to is None or m.reply_to == reply_to.message_id)
            ),
            None,
        ),
        timeout,
        what,
    )


def callback_answer(
    emulator: BotApiEmulator, message: Message, user: int, data: str, what: str
) -> str:
    """Presses the button ``data`` of ``message`` as ``user``; the text of the bot's answer."""
    pressed = emulator.press_button(message, user, data)
    return emulator.wait_for(lambda: emulator.callback_answer(pressed), 10, what)["text"]


def forbidden_calls(emulator: BotApiEmulator, chat: int) -> list[Call]:
    """The bot's calls to ``chat`` that Telegram refused with 403."""
    return [
        c for c in emulator.calls if str(c.params.get("chat_id")) == str(chat) and c.status == 403
    ]


def wait_log(emulator: BotApiEmulator, bot: BotProcess, needle: str, timeout: float = 15) -> str:
    return emulator.wait_for(
        lambda: needle in bot.output and bot.output, timeout, f"{needle!r} in the log"
    )


# --- forum topics ---------------------------------------------------------------------------


def test_timer_in_a_topic_confirms_rings_and_snoozes_in_that_topic(
    emulator: BotApiEmulator, make_bot
) -> None:
    topic, _other_topic = emulator.make_forum(GROUP, topics=2)
    bot = make_bot()
    command = emulator.send_text(GROUP, USER, "/timer 2 tea", thread_id=topic)
    confirmation = emulator.wait_reply(GROUP, command)
    assert confirmation.thread_id == topic
    ring = wait_ring(emulator, GROUP, "tea")
    assert ring.thread_id == topic, "the ring went to General instead of the topic it was set in"
    assert ring.reply_to == command.message_id

    emulator.press_button(ring, USER, ring.buttons[0]["callback_data"])
    snoozed = emulator.wait_reply(GROUP, ring, contains="Snoozed as")
    assert snoozed.thread_id == topic
    snooze_ref = ref_in(snoozed.text)

    # /timers in the topic lists the topic's own items first, the rest of the group after
    general = emulator.send_text(GROUP, OTHER, "/timer 1h lunch")
    general_ref = ref_in(emulator.wait_reply(GROUP, general).text)
    listing = emulator.wait_reply(
        GROUP, emulator.send_text(GROUP, OTHER, "/timers", thread_id=topic)
    )
    assert listing.thread_id == topic
    lines = listing.text.splitlines()
    assert lines[0] == "Pending in this topic:"
    mine, heading, elsewhere = (
        next(i for i, line in enumerate(lines) if needle in line)
        for needle in (snooze_ref, "Elsewhere in this chat:", general_ref)
    )
    assert mine < heading < elsewhere
    in_general = emulator.wait_reply(GROUP, emulator.send_text(GROUP, OTHER, "/timers"))
    assert in_general.thread_id is None and in_general.text.startswith("Pending in this chat:")
    no_traceback(bot)


def test_download_in_a_topic_is_delivered_to_that_topic(
    emulator: BotApiEmulator, make_bot, origin
) -> None:
    (topic,) = emulator.make_forum(GROUP)
    bot = make_bot()
    data = payload(300_000, seed=5)
    origin.add_file("/notes.pdf", data)
    request = emulator.send_text(
        GROUP, USER, f"/download {origin.url('/notes.pdf')}", thread_id=topic
    )
    document = wait_document(emulator, GROUP, "the document")
    assert document.thread_id == topic, "the file went to General instead of the topic"
    assert document.document["sha256"] == sha(data)
    status = next(
        m
        for m in emulator.bot_messages(GROUP)
        if m.reply_to == request.message_id and not m.document
    )
    assert status.thread_id == topic
    actions = [c for c in emulator.calls_of("sendChatAction") if int(c.params["chat_id"]) == GROUP]
    assert actions and all(int(c.params["message_thread_id"]) == topic for c in actions)
    listing = emulator.wait_reply(
        GROUP, emulator.send_text(GROUP, USER, "/downloads", thread_id=topic)
    )
    assert listing.thread_id == topic and "notes.pdf" in listing.text
    no_traceback(bot)


def test_file_kept_on_the_server_is_announced_in_the_topic(
    emulator: BotApiEmulator, make_bot, origin
) -> None:
    (topic,) = emulator.make_forum(GROUP)
    bot = make_bot(max_upload_mb="1")
    origin.add_file("/big.iso", payload(1_500_000, seed=6))
    emulator.send_text(GROUP, USER, f"/download {origin.url('/big.iso')}", thread_id=topic)
    kept = emulator.wait_for(
        lambda: next(
            (
                m
                for m in emulator.bot_messages(GROUP)
                if (m.text or "").startswith("📦 d1 · big.iso")
            ),
            None,
        ),
        60,
        "the kept-on-the-server notice",
    )
    assert "so it is kept on the server" in kept.text
    assert kept.thread_id == topic
    no_traceback(bot)


# --- supergroup upgrades --------------------------------------------------------------------


def test_group_upgraded_mid_way_rings_in_the_new_chat_with_nothing_lost(
    emulator: BotApiEmulator, make_bot
) -> None:
    """No service message reaches the bot: the ChatMigrated error of the first ring is the news."""
    emulator.make_basic_group(OLD_GROUP, "Family")
    bot = make_bot(allowed_users=f"{USER},{OTHER},{OLD_GROUP}")
    first = emulator.send_text(OLD_GROUP, USER, "/timer 6 pasta")
    emulator.wait_reply(OLD_GROUP, first)
    later = emulator.send_text(OLD_GROUP, OTHER, "/remind in 2h call grandma")
    later_ref = ref_in(emulator.wait_reply(OLD_GROUP, later).text)
    soon = emulator.send_text(OLD_GROUP, OTHER, "/timer 9 tea")
    emulator.wait_reply(OLD_GROUP, soon)

    emulator.upgrade_group(OLD_GROUP, NEW_GROUP, announce=False)

    ring = wait_ring(emulator, NEW_GROUP, "pasta")
    assert "@user42" in ring.text  # still mentions who set it
    assert ring.reply_to is None  # the command is a message of the old chat, not of this one
    wait_ring(emulator, NEW_GROUP, "tea")  # the next one goes straight to the new id
    assert not rings(emulator, OLD_GROUP, "pasta") and not rings(emulator, OLD_GROUP, "tea")
    migrated = [
        c
        for c in emulator.calls_of("sendMessage")
        if int(c.params["chat_id"]) == OLD_GROUP and c.status == 400
    ]
    assert len(migrated) == 1, "only the first ring should try the old id"

    # allowed under the new id, because ALLOWED_USERS lists the old one; nothing was lost
    listing = emulator.wait_reply(NEW_GROUP, emulator.send_text(NEW_GROUP, OTHER, "/timers"))
    assert later_ref in listing.text and "call grandma" in listing.text
    output = bot.output
    assert output.count("put -1004001 in ALLOWED_USERS in place of -4001") == 1
    no_traceback(bot)

    # a restart keeps the move (rows) and the allowance (remembered upgrade)
    bot.terminate()
    bot.start()
    listing = emulator.wait_reply(NEW_GROUP, emulator.send_text(NEW_GROUP, OTHER, "/timers"))
    assert later_ref in listing.text
    no_traceback(bot)


def test_upgrade_service_messages_move_downloads_and_reminders(
    emulator: BotApiEmulator, make_bot, origin
) -> None:
    emulator.make_basic_group(OLD_GROUP, "Team")
    bot = make_bot(allowed_users=f"{USER},{OTHER},{OLD_GROUP}")
    data = payload(400_000, seed=8)
    slow_download(emulator, origin, OLD_GROUP, "slides.pdf", data, 60_000)  # about 7 s
    reminder = emulator.send_text(OLD_GROUP, USER, "/remind in 3h retro")
    ref = ref_in(emulator.wait_reply(OLD_GROUP, reminder).text)

    emulator.upgrade_group(OLD_GROUP, NEW_GROUP)
    wait_log(emulator, bot, "was upgraded to a supergroup, now chat -1004001")

    document = wait_document(emulator, NEW_GROUP, "the document in the new chat")
    assert document.document["sha256"] == sha(data)
    assert not any(m.document for m in emulator.bot_messages(OLD_GROUP))
    listing = emulator.wait_reply(NEW_GROUP, emulator.send_text(NEW_GROUP, USER, "/timers"))
    assert ref in listing.text
    assert bot.output.count("was upgraded to a supergroup") == 1  # two service messages, one move
    reposted = [
        m
        for m in emulator.bot_messages(NEW_GROUP)
        if not m.document and any("slides.pdf" in (text or "") for _, text, _ in m.history)
    ]
    assert reposted, "the download's status did not continue in the new chat"
    no_traceback(bot)


# --- removal and blocking -------------------------------------------------------------------


def test_removed_group_pauses_leaves_others_alone_and_resumes_when_back(
    emulator: BotApiEmulator, make_bot, origin
) -> None:
    bot = make_bot()
    data = payload(600_000, seed=9)
    status = slow_download(emulator, origin, GROUP, "video.mp4", data, 30_000)  # 20 s: stopped
    soon = emulator.send_text(GROUP, USER, "/timer 8 standup")
    emulator.wait_reply(GROUP, soon)
    later = emulator.send_text(GROUP, OTHER, "/remind in 2h retro")
    later_ref = ref_in(emulator.wait_reply(GROUP, later).text)
    private = emulator.send_text(USER, USER, "/timer 12 kettle")  # rings when standup is overdue
    emulator.wait_reply(USER, private)

    emulator.remove_bot(GROUP, OTHER)
    wait_log(emulator, bot, "chat -100123 is unreachable (removed")

    wait_ring(emulator, USER, "kettle")  # the other chat is unaffected (and standup is overdue)
    assert forbidden_calls(emulator, GROUP) == [], "the bot kept trying a group it was removed from"
    output = bot.output
    assert output.count("is unreachable") == 1
    assert "paused 2 timers/reminders, stopped 1 downloads" in output
    no_traceback(bot)

    # added back: the group is told what was paused; a member may not resume, an admin may
    emulator.set_member_status(GROUP, GROUP_ADMIN, "administrator")
    emulator.add_bot(GROUP, GROUP_ADMIN)
    notice = emulator.wait_reply(GROUP, status, contains="I'm back")
    assert later_ref in notice.text and "video.mp4" in notice.text
    assert notice.buttons[0]["text"] == "Resume"
    listing = emulator.wait_reply(
        GROUP, emulator.send_text(GROUP, OTHER, "/timers"), contains="Paused"
    )
    assert later_ref in listing.text and listing.buttons[0]["text"] == "Resume"

    refused = callback_answer(emulator, notice, OTHER, "chat:resume", "the refusal")
    assert "Only an admin" in refused
    resumed = callback_answer(emulator, notice, GROUP_ADMIN, "chat:resume", "the resume answer")
    assert "downloads: 1" in resumed

    assert "late by" in wait_ring(emulator, GROUP, "standup").text  # came due while away: rings now
    document = wait_document(emulator, GROUP, "the restarted download's document", 90)
    assert document.document["sha256"] == sha(data)
    pending = emulator.wait_reply(
        GROUP, emulator.send_text(GROUP, OTHER, "/timers"), contains="Pending"
    )
    assert later_ref in pending.text and "Paused" not in pending.text
    no_traceback(bot)


def test_blocked_in_private_stops_at_the_first_403_and_unblocking_offers_resume(
    emulator: BotApiEmulator, make_bot, origin
) -> None:
    """No my_chat_member update reaches the bot: a 403 (of a ring or a progress edit) is the
    news."""
    bot = make_bot()
    data = payload(500_000, seed=10)
    slow_download(emulator, origin, USER, "album.zip", data, 25_000)  # 20 s: stopped mid-way
    first = emulator.send_text(USER, USER, "/timer 6 stretch")
    emulator.wait_reply(USER, first)
    later = emulator.send_text(USER, USER, "/remind in 5h water plants")
    later_ref = ref_in(emulator.wait_reply(USER, later).text)
    emulator.send_text(OTHER, OTHER, "/timer 10 other")

    emulator.remove_bot(USER, USER, announce=False)
    wait_log(
        emulator, bot, f"chat {USER} is unreachable (403 Forbidden: bot was blocked by the user)"
    )
    wait_ring(emulator, OTHER, "other")  # later than stretch was due: the others go on
    forbidden = forbidden_calls(emulator, USER)
    assert 1 <= len(forbidden) <= 2, [c.method for c in forbidden]  # a ring and an edit may cross
    assert bot.output.count("is unreachable") == 1
    no_traceback(bot)

    emulator.add_bot(USER, USER)  # unblocked
    notice = emulator.wait_reply(USER, contains="I'm back")
    assert "stretch" in notice.text and later_ref in notice.text and "album.zip" in notice.text
    resumed = callback_answer(emulator, notice, USER, "chat:resume", "the resume answer")
    assert "timers/reminders: 2, downloads: 1" in resumed
    assert "late by" in wait_ring(emulator, USER, "stretch").text
    document = wait_document(emulator, USER, "the restarted download's document", 90)
    assert document.document["sha256"] == sha(data)
    listing = emulator.wait_reply(
        USER, emulator.send_text(USER, USER, "/timers"), contains="pending"
    )
    assert later_ref in listing.text
    no_traceback(bot)


def test_a_file_finished_while_the_chat_was_unreachable_is_sent_on_resume(
    emulator: BotApiEmulator, make_bot, origin
) -> None:
    bot = make_bot()
    data = payload(200_000, seed=11)
    origin.add_file("/scan.pdf", data)
    emulator.add_fault(
        "sendDocument", code=403, description="Forbidden: bot was blocked by the user"
    )
    request = emulator.send_text(USER, USER, f"/download {origin.url('/scan.pdf')}")
    wait_log(emulator, bot, f"chat {USER} is unreachable (403 Forbidden")
    assert not any(m.document for m in emulator.bot_messages(USER))

    emulator.remove_bot(USER, USER, announce=False)  # what the 403 meant, then the unblock
    emulator.add_bot(USER, USER)
    notice = emulator.wait_reply(USER, request, contains="I'm back")
    assert "scan.pdf" in notice.text
    callback_answer(emulator, notice, USER, "chat:resume", "the resume answer")
    document = wait_document(emulator, USER, "the waiting file", 30)
    assert document.document["sha256"] == sha(data)
    assert len([c for c in emulator.calls_of("sendDocument") if c.status == 200]) == 1
    no_traceback(bot)


# --- commands by name -----------------------------------------------------------------------


def test_commands_addressed_by_name_work_and_other_bots_commands_are_left_alone(
    emulator: BotApiEmulator, bot: BotProcess, origin
) -> None:
    ours = emulator.send_text(GROUP, USER, "/timer@errand_test_bot 1h brew")
    assert "brew" in emulator.wait_reply(GROUP, ours).text
    theirs = emulator.send_text(GROUP, USER, "/timer@some_other_bot 1h not for us")
    unknown_theirs = emulator.send_text(GROUP, USER, "/frobnicate@some_other_bot")
    listing_cmd = emulator.send_text(GROUP, USER, "/timers@errand_test_bot")
    listing = emulator.wait_reply(GROUP, listing_cmd, contains="Pending")
    assert "brew" in listing.text and "not for us" not in listing.text
    replies_to = {m.reply_to for m in emulator.bot_messages(GROUP)}
    assert theirs.message_id not in replies_to and unknown_theirs.message_id not in replies_to

    unknown_ours = emulator.send_text(GROUP, USER, "/frobnicate@errand_test_bot")
    assert "/help" in emulator.wait_reply(GROUP, unknown_ours, contains="I don't know").text

    # a bare link in a group is nobody's request; /download in reply to it is
    origin.add_file("/shared.bin", payload(100_000, seed=12))
    link = emulator.send_text(GROUP, OTHER, origin.url("/shared.bin"))
    fetch = emulator.send_text(GROUP, USER, "/download@errand_test_bot", reply_to=link.message_id)
    wait_document(emulator, GROUP, "the shared file", reply_to=fetch)
    assert link.message_id not in {m.reply_to for m in emulator.bot_messages(GROUP)}
    assert len(origin.hits("/shared.bin")) >= 1 and all(
        m.document is None or m.reply_to == fetch.message_id for m in emulator.bot_messages(GROUP)
    )

    origin.add_file("/a.txt", b"hello group")
    request = emulator.send_text(USER, USER, f"/download@errand_test_bot {origin.url('/a.txt')}")
    wait_document(emulator, USER, "the document", reply_to=request)
    no_traceback(bot)
