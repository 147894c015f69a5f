"""The last handler: an unknown command gets a pointer to /help instead of silence.

Registered after every feature (see ``FEATURES`` in ``app.py``), so it only sees commands nobody
else took. In a group, a bare ``/something`` may be meant for another bot, so only commands
addressed to this bot by name are answered there.
"""

from __future__ import annotations

from telegram import Chat, Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.telegram.services import Services


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    command = (message.text or "").split(maxsplit=1)[0]
    if message.chat.type != Chat.PRIVATE and "@" not in command:
        return
    name = command.split("@", 1)[0][:40]
    await message.reply_text(f"I don't know {name}. Send /help for the list of commands.")


def register(app: Application, services: Services) -> None:
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
