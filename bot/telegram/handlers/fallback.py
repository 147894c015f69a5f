"""The last handlers: an unknown command gets a pointer to /help instead of silence, and an
edited command a note that edits are not applied (so "/download X" edited into "/download Y"
does not fetch twice, and a timer is not set twice).

A plain message in a private chat (not a command, not a bare link, which starts a download) gets
a short note of what Errand does, with a download button per link it contains: a new user who
types "hi" or pastes a link inside a sentence is not met with silence.

Registered after every feature (see ``FEATURES`` in ``app.py``), so it only sees commands nobody
else took. In a group, a bare ``/something`` may be meant for another bot, so only commands
addressed to this bot by name are answered there.
"""

from __future__ import annotations

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.i18n import N_, _
from bot.telegram.callback_data import unknown_button
from bot.telegram.download_status import display_url
from bot.telegram.handlers.downloads import MAX_URLS, _urls_in
from bot.telegram.services import Services
from bot.telegram.update_parts import message_of


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = message_of(update)
    command = (message.text or "").split(maxsplit=1)[0]
    if message.chat.type != Chat.PRIVATE and "@" not in command:
        return
    name = command.split("@", 1)[0][:40]
    await message.reply_text(
        _("I don't know {command}. Send /help for the list of commands.").format(command=name)
    )


async def edited_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = message_of(update)
    command = (message.text or "").split(maxsplit=1)[0]
    ours = command.split("@", 1)[0][1:] in context.application.bot_data.get(
        "available_commands", ()
    )
    if message.chat.type != Chat.PRIVATE and "@" not in command and not ours:
        return
    await message.reply_text(
        _(
            "I don't apply edits to a command. "
            "To change it, /cancel the old one and send a new command."
        )
    )


PLAIN_ANSWER = N_(
    "I run errands rather than chat: /download URL fetches a file for you, "
    "/timer 5m tea and /remind tomorrow 9am standup ring you on time. /help lists everything."
)


async def plain_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A private message that is neither a command nor a bare link."""
    message = message_of(update)
    urls = _urls_in(message)[:MAX_URLS]
    if not urls:
        await message.reply_text(_(PLAIN_ANSWER))
        return
    buttons = [
        [InlineKeyboardButton(f"⬇️ {display_url(url, 40)}", callback_data=f"dl:link:{i}")]
        for i, url in enumerate(urls)
    ]
    question = (
        _("Download this link? Press to start (or send /download URL).")
        if len(urls) == 1
        else _("Download one of these links? Press to start (or send /download URL).")
    )
    await message.reply_text(
        question,
        reply_markup=InlineKeyboardMarkup(buttons),
        reply_parameters=ReplyParameters(message.message_id),
    )


def register(app: Application, services: Services) -> None:
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, unknown_command))
    app.add_handler(
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.COMMAND, edited_command)
    )
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND,
            plain_message,
        )
    )
    app.add_handler(CallbackQueryHandler(unknown_button))
