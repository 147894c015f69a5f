"""The foundation, end to end: greeting, help, access control, rate limits, clean stop."""

from __future__ import annotations

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.harness import GROUP, STRANGER, USER, BotProcess

pytestmark = pytest.mark.timeout(60)


def test_start_and_help_in_private(emulator: BotApiEmulator, bot: BotProcess) -> None:
    sent = emulator.send_text(USER, USER, "/start")
    reply = emulator.wait_reply(USER, sent)
    assert "Errand" in reply.text and "/help" in reply.text

    sent = emulator.send_text(USER, USER, "/help")
    reply = emulator.wait_reply(USER, sent)
    for command in ("/download", "/timer", "/remind", "/cancel", "/help"):
        assert command in reply.text
    assert "e.g. /timer" in reply.text  # one example per command


def test_commands_registered_as_menu(emulator: BotApiEmulator, bot: BotProcess) -> None:
    names = {
        c["command"] for c in emulator.wait_for(lambda: emulator.commands, 10, "setMyCommands")
    }
    assert {"start", "help", "cancel"} <= names


def test_help_with_bot_name_in_group_quotes_the_command(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    sent = emulator.send_text(GROUP, USER, f"/help@{emulator.bot_username}")
    reply = emulator.wait_reply(GROUP, sent)
    assert "Commands:" in reply.text
    assert reply.reply_to == sent.message_id


def test_command_for_another_bot_is_ignored(emulator: BotApiEmulator, bot: BotProcess) -> None:
    ignored = emulator.send_text(GROUP, USER, "/help@some_other_bot")
    marker = emulator.send_text(GROUP, USER, "/start")
    reply = emulator.wait_reply(GROUP, ignored)
    # The first reply after both messages answers /start; nothing answers the other bot's command.
    assert reply.reply_to == marker.message_id
    assert all(m.reply_to != ignored.message_id for m in emulator.bot_messages(GROUP))


def test_stranger_is_refused_with_their_id(emulator: BotApiEmulator, bot: BotProcess) -> None:
    sent = emulator.send_text(STRANGER, STRANGER, "/start")
    reply = emulator.wait_reply(STRANGER, sent)
    assert str(STRANGER) in reply.text and "ALLOWED_USERS" in reply.text
    assert "Errand" not in reply.text


def test_stranger_in_unlisted_group_gets_both_ids(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    sent = emulator.send_text(-555, STRANGER, "/help")
    reply = emulator.wait_reply(-555, sent)
    assert str(STRANGER) in reply.text and "-555" in reply.text


def test_anonymous_admin_in_unlisted_group_gets_the_chat_id_only(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    sent = emulator.send_text(-556, STRANGER, "/help", as_chat=-556)
    reply = emulator.wait_reply(-556, sent)
    assert reply.text == (
        "Sorry, this bot is private. This chat's id is -556. "
        "Ask the bot's owner to add it to ALLOWED_USERS."
    )


def test_unset_allowed_users_lets_nobody_in(emulator: BotApiEmulator, make_bot) -> None:
    make_bot(allowed_users="")
    sent = emulator.send_text(USER, USER, "/start")
    assert "ALLOWED_USERS" in emulator.wait_reply(USER, sent).text


def test_429_on_send_message_is_waited_out(emulator: BotApiEmulator, bot: BotProcess) -> None:
    emulator.add_fault("sendMessage", code=429, retry_after=2)
    sent = emulator.send_text(USER, USER, "/start")
    reply = emulator.wait_reply(USER, sent, timeout=15)
    assert "Errand" in reply.text
    attempts = [
        c for c in emulator.calls_of("sendMessage") if str(c.params.get("chat_id")) == str(USER)
    ]
    assert [c.status for c in attempts][:2] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.9  # retry_after was honoured, not ignored


def test_sigterm_stops_within_ten_seconds(emulator: BotApiEmulator, bot: BotProcess) -> None:
    emulator.wait_reply(USER, emulator.send_text(USER, USER, "/start"))
    took = bot.terminate(timeout=10)
    assert bot.proc.returncode == 0
    assert took < 10
    assert "Errand stopped" in bot.output


def test_token_never_in_output_even_at_debug(emulator: BotApiEmulator, bot: BotProcess) -> None:
    emulator.wait_reply(USER, emulator.send_text(USER, USER, "/help"))
    bot.terminate()
    output = bot.output
    assert "getUpdates" in output  # DEBUG logging did log the API calls…
    assert emulator.token.split(":", 1)[1] not in output  # …without the token


def test_unknown_command_points_to_help(emulator: BotApiEmulator, bot: BotProcess) -> None:
    sent = emulator.send_text(USER, USER, "/frobnicate now")
    reply = emulator.wait_reply(USER, sent)
    assert "/frobnicate" in reply.text and "/help" in reply.text


def test_rejected_token_is_one_line_without_the_token(emulator: BotApiEmulator, tmp_path) -> None:
    import subprocess

    from tests.e2e.harness import ERRANDBOT

    wrong = "987654321:AAWrongTokenThatTheServerRejects_xyz"
    env = {
        "PATH": "/usr/bin:/bin",
        "BOT_TOKEN": wrong,
        "TELEGRAM_API_URL": emulator.url,
        "DATA_DIR": str(tmp_path / "data"),
        "ALLOWED_USERS": str(USER),
    }
    result = subprocess.run(
        [ERRANDBOT, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    # python-telegram-bot logs the failure (scrubbed); the process ends with one plain line.
    assert (
        result.stderr.strip().splitlines()[-1]
        == "errandbot: Telegram rejected BOT_TOKEN; check it with @BotFather"
    )
    assert "AAWrongToken" not in result.stdout + result.stderr
