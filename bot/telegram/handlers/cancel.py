"""``/cancel ID``: one command for both kinds of work, routed by the id's letter.

Downloads are ``d7``, timers and reminders ``t12``; each feature registers a canceller for its
letter in ``services.cancellers`` and replies itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.i18n import N_, _
from bot.telegram.services import Services, services_of
from bot.telegram.update_parts import message_of

Canceller = Callable[[Update, ContextTypes.DEFAULT_TYPE, int], Awaitable[None]]
_ID = re.compile(r"([a-z])(\d{1,12})")
USAGE = N_(
    "Usage: /cancel ID — the id from /downloads (like d7) or /timers (like t12).\n"
    "Example: /cancel t12"
)


def add_canceller(services: Services, letter: str, canceller: Canceller) -> None:
    """Let ``/cancel <letter><number>`` reach ``canceller(update, context, number)``."""
    services.cancellers[letter] = canceller


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = message_of(update)
    cancellers = services_of(context).cancellers
    args = context.args or []
    if len(args) != 1:
        await message.reply_text(_(USAGE))
        return
    match = _ID.fullmatch(args[0].strip().lower())
    if not match or match.group(1) not in cancellers:
        await message.reply_text(
            _("“{word}” is not an id I know.").format(word=args[0][:40]) + "\n" + _(USAGE)
        )
        return
    await cancellers[match.group(1)](update, context, int(match.group(2)))


def register(app: Application, services: Services) -> None:
    app.add_handler(CommandHandler("cancel", cancel))
