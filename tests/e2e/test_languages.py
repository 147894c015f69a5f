"""Languages end to end: a Chinese-speaking Telegram user (``language_code="zh-hans"``) is answered
in Chinese by the real bot, ``/lang`` switches, and a group admin's choice covers the group."""

from __future__ import annotations

import re

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.harness import GROUP, OTHER, STRANGER, USER, BotProcess

pytestmark = pytest.mark.timeout(90)

HAN = re.compile(r"[\u4e00-\u9fff]")


def chinese(text: str | None) -> bool:
    """Mostly Chinese: Han characters and no English sentence words left over."""
    text = text or ""
    return bool(HAN.search(text)) and not re.search(r"\b(the|is|and|your|you|to|for|of)\b", text)


def ask(emulator: BotApiEmulator, chat: int, user: int, text: str, **kw) -> str:
    sent = emulator.send_text(chat, user, text)
    return emulator.wait_reply(chat, sent, **kw).text


def test_chinese_user_gets_start_help_and_refusals_in_chinese(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    emulator.set_user_language(USER, "zh-hans")
    start = ask(emulator, USER, USER, "/start")
    assert "我是 Errand" in start and chinese(start)
    help_text = ask(emulator, USER, USER, "/help")
    assert help_text.startswith("命令：") and "例：/timer" in help_text and chinese(help_text)
    refusal = ask(emulator, USER, USER, "/cancel x1")
    assert "我不认识编号“x1”" in refusal and chinese(refusal)
    unknown = ask(emulator, USER, USER, "/frobnicate")
    assert "/frobnicate" in unknown and chinese(unknown)

    # A stranger whose app is Chinese is refused in Chinese, with the id the owner needs.
    emulator.set_user_language(STRANGER, "zh-cn")
    refused = ask(emulator, STRANGER, STRANGER, "/start")
    assert str(STRANGER) in refused and "ALLOWED_USERS" in refused and "抱歉" in refused

    # Someone else whose app is English still gets English from the same bot.
    assert ask(emulator, OTHER, OTHER, "/help").startswith("Commands:")
    # Traditional Chinese is not Simplified: no guess, English.
    emulator.set_user_language(OTHER, "zh-tw")
    assert ask(emulator, OTHER, OTHER, "/help").startswith("Commands:")


def test_lang_switches_and_is_remembered(emulator: BotApiEmulator, make_bot) -> None:
    bot = make_bot()
    emulator.set_user_language(USER, "zh-hans")
    shown = ask(emulator, USER, USER, "/lang")
    assert "中文" in shown and "自动" in shown and "/lang en" in shown
    assert "Language set to English" in ask(emulator, USER, USER, "/lang en")
    assert ask(emulator, USER, USER, "/help").startswith("Commands:")
    assert "your choice" in ask(emulator, USER, USER, "/lang")
    bad = ask(emulator, USER, USER, "/lang klingon")
    assert "“klingon” is not a language I speak" in bad and "/lang zh" in bad

    # An English app, a stored choice of Chinese: the choice wins, and survives a restart.
    emulator.set_user_language(USER, "en")
    assert "语言已设为中文" in ask(emulator, USER, USER, "/lang zh")
    bot.terminate()
    bot.start()
    assert ask(emulator, USER, USER, "/help").startswith("命令：")
    # auto: back to what the app says.
    auto = ask(emulator, USER, USER, "/lang auto")
    assert "automatic" in auto and "English" in auto
    assert ask(emulator, USER, USER, "/help").startswith("Commands:")


def test_group_language_is_set_by_admins_only(emulator: BotApiEmulator, bot: BotProcess) -> None:
    emulator.set_user_language(USER, "zh-hans")
    emulator.set_user_language(OTHER, "en")
    # No group setting: each person is answered in their own language.
    assert ask(emulator, GROUP, USER, "/help").startswith("命令：")
    assert ask(emulator, GROUP, OTHER, "/help").startswith("Commands:")

    refused = ask(emulator, GROUP, USER, "/lang en")
    assert "只有群管理员" in refused
    assert ask(emulator, GROUP, OTHER, "/help").startswith("Commands:")  # the group did not change

    emulator.set_member_status(GROUP, USER, "administrator")
    assert "本群的语言已设为中文" in ask(emulator, GROUP, USER, "/lang zh")
    # The member whose app is English now gets Chinese in the group, and English in private.
    assert ask(emulator, GROUP, OTHER, "/help").startswith("命令：")
    assert ask(emulator, OTHER, OTHER, "/help").startswith("Commands:")
    # A member's /lang does not change the group (and says so in the group's language).
    assert "只有群管理员" in ask(emulator, GROUP, OTHER, "/lang en")
    assert ask(emulator, GROUP, OTHER, "/help").startswith("命令：")
    shown = ask(emulator, GROUP, OTHER, "/lang")
    assert "本群的语言是中文" in shown
    # An anonymous admin (writing as the group) may change it back: everyone in their own again.
    sent = emulator.send_text(GROUP, USER, "/lang auto", as_chat=GROUP)
    assert "This group has no language of its own now" in emulator.wait_reply(GROUP, sent).text
    assert ask(emulator, GROUP, OTHER, "/help").startswith("Commands:")
    assert ask(emulator, GROUP, USER, "/help").startswith("命令：")


def test_command_menu_in_english_and_chinese(emulator: BotApiEmulator, bot: BotProcess) -> None:
    emulator.wait_for(lambda: "zh" in emulator.command_menus, 10, "the Chinese command menu")
    english = {c["command"]: c["description"] for c in emulator.command_menus[""]}
    chinese_menu = {c["command"]: c["description"] for c in emulator.command_menus["zh"]}
    assert english.keys() == chinese_menu.keys() and "lang" in english
    assert english["help"] == "this list" and chinese_menu["help"] == "本列表"
    assert all(HAN.search(text) for text in chinese_menu.values())


def test_timer_confirmation_countdown_and_ring_in_chinese(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    emulator.set_user_language(USER, "zh-hans")
    command = emulator.send_text(USER, USER, "/timer 3")
    confirmation = emulator.wait_reply(USER, command)
    assert (
        confirmation.text.startswith("⏳ 3秒 — ")
        and "响铃" in confirmation.text
        and "还剩" in confirmation.text
    )
    assert [b["text"] for b in confirmation.buttons] == ["取消"]
    # The ring comes from no update: the reminder row remembers it was set in Chinese, even after
    # the person switched to English in the meantime.
    assert "Language set to English" in ask(emulator, USER, USER, "/lang en")
    ring = emulator.wait_reply(USER, command, contains="🔔", timeout=20)
    assert ring.text == "🔔 t1 · 3秒计时器"
    assert [b["text"] for b in ring.buttons] == ["+5分钟", "+1小时", "明天"]
    emulator.wait_for(
        lambda: "已于" in emulator.get_message(USER, confirmation.message_id).text,
        10,
        "the confirmation to say it rang, in Chinese",
    )
    # A refusal from the reminder side, in the language now chosen (English), and back in Chinese.
    assert "no timer or reminder t99" in ask(emulator, USER, USER, "/cancel t99")
    ask(emulator, USER, USER, "/lang zh")
    assert "本聊天没有计时器或提醒 t99" in ask(emulator, USER, USER, "/cancel t99")


def test_download_status_and_caption_in_chinese(emulator: BotApiEmulator, bot: BotProcess) -> None:
    from tests.origin import Origin

    emulator.set_user_language(USER, "zh-hans")
    data = bytes(range(256)) * 4096  # 1 MiB
    with Origin() as origin:
        origin.add_file("/report.bin", data)
        request = emulator.send_text(USER, USER, f"/download {origin.url('/report.bin')}")
        document = emulator.wait_for(
            lambda: next((m for m in emulator.bot_messages(USER) if m.document), None),
            60,
            "the document",
        )
    assert document.caption.startswith("report.bin\n1.0 MB，用时") and "sha256 " in document.caption
    status = next(
        m
        for m in emulator.bot_messages(USER)
        if m.reply_to == request.message_id and not m.document
    )
    final = emulator.wait_for(
        lambda: (t := emulator.get_message(USER, status.message_id).text) and "✅" in t and t,
        20,
        "the status to say it is done",
    )
    assert (
        final.startswith("✅ ")
        and "report.bin — 1.0 MB，用时" in final
        and final.endswith("已发在下面。")
    )
    history = [entry[1] or "" for entry in emulator.get_message(USER, status.message_id).history]
    assert any("正在检查" in text for text in history), history
    assert all(
        chinese(text.replace("report.bin", "")) for text in history if "127.0.0.1" not in text
    ), history

    listing = ask(emulator, USER, USER, "/downloads")
    assert "d1 report.bin — ✅ 1.0 MB" in listing  # nothing left to cancel: no /cancel hint
    # A bad link is refused in Chinese, with the usage.
    refused = ask(emulator, USER, USER, "/download not-a-link")
    assert "用法：/download 网址" in refused


def test_remind_with_a_chinese_phrase_in_chinese(emulator: BotApiEmulator, bot: BotProcess) -> None:
    emulator.set_user_language(USER, "zh-hans")
    ask(emulator, USER, USER, "/tz Asia/Shanghai")
    confirmation = ask(emulator, USER, USER, "/remind 明天早上9点 开会")
    assert confirmation.startswith("⏰ t1 “开会” — ") and "09:00（Asia/Shanghai" in confirmation
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 周[一二三四五六日] 09:00", confirmation), (
        confirmation
    )
    repeat = ask(emulator, USER, USER, "/remind 每周一三五 早上8点 跑步")
    assert "每个星期一、星期三和星期五 08:00；第一次 " in repeat, repeat
    listing = ask(emulator, USER, USER, "/timers")
    assert listing.startswith("你待响的计时器和提醒：") and "t1 提醒 “开会”" in listing
    refusal = ask(emulator, USER, USER, "/remind 明天 25:00 开会")
    assert chinese(refusal.split("例：")[0]) and "例：" in refusal, refusal
    # An ambiguous date: both readings worded in Chinese; no Latin letter but the command names.
    ambiguous = ask(emulator, USER, USER, "/remind 12/11 付房租")
    assert "11月12日" in ambiguous and "12月11日" in ambiguous, ambiguous
    assert not re.search(r"[A-Za-z]", re.sub(r"/[a-z]+", "", ambiguous)), ambiguous
    help_remind = ask(emulator, USER, USER, "/help remind")
    assert help_remind.startswith("/remind 时间 内容")
