"""Reading the ``data`` of an inline button press, which a client can set to anything.

Button data comes back from Telegram as the bot wrote it, but nothing stops a modified client
from sending other data, and a message forwarded or sent inline has no chat to act in. Ids are
read here with bounds (a 20-digit "id" must not reach the database, where it overflows an
integer), and :func:`unknown_button` answers every press nobody else took, so a button never
spins forever and a bad one is logged as a warning, never an unhandled exception.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ContextTypes

from bot.i18n import _
from bot.telegram.update_parts import query_of

log = logging.getLogger(__name__)

MAX_ID_DIGITS = 15  # far above any row id, far below SQLite's 64-bit integer


def parse_number(text: str) -> int | None:
    """The row id in a button's data, or None when it is not a plausible one."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a press no handler took (stale, malformed or from an inline message)."""
    query = query_of(update)
    log.warning(
        "button data %r not understood (chat %s); answered",
        (query.data or "")[:80],
        update.effective_chat.id if update.effective_chat else None,
    )
    await query.answer(_("That button no longer works."))
