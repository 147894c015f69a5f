"""``/start``, ``/help``, the ALLOWED_USERS gate and the global error handler."""

from __future__ import annotations

import logging
import uuid

from telegram import Chat, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    TypeHandler,
)

from bot.i18n import _
from bot.telegram import texts
from bot.telegram.permissions import is_allowed
from bot.telegram.services import Services, services_of
from bot.telegram.update_parts import message_of

log = logging.getLogger(__name__)

GATE_GROUP = -100  # runs before every feature handler (groups run in ascending order)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await message_of(update).reply_text(_(texts.START))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.args and context.args[0].lower().lstrip("/") == "remind":
        from bot.telegram.reminder_words import HELP_REMIND

        await message_of(update).reply_text(_(HELP_REMIND))
        return
    available = context.application.bot_data.get("available_commands")
    await message_of(update).reply_text(texts.help_text(available))


def _addressed_to_other_bot(update: Update, bot_username: str) -> bool:
    message = update.effective_message
    text = (message.text or "") if message else ""
    if not text.startswith("/"):
        return False
    command = text.split(maxsplit=1)[0]
    _command, at, target = command.partition("@")
    return bool(at) and target.lower() != bot_username.lower()


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop every update from someone not in ALLOWED_USERS, telling them their id when they ask.

    In a group, only commands for this bot (and button presses) get an answer: a stranger's chatter
    there is none of our business, and a command for another bot is silently left alone.
    """
    settings = services_of(context).settings
    user, chat = update.effective_user, update.effective_chat
    if _addressed_to_other_bot(update, context.bot.username):
        raise ApplicationHandlerStop
    if is_allowed(settings, user.id if user else None, chat.id if chat else None):
        return
    faults = services_of(context).chat_faults
    if chat is not None and faults is not None and faults.allowed_as(chat.id) is not None:
        return  # a group upgraded to a supergroup stays allowed under its old id
    private = chat is not None and chat.type == chat.PRIVATE
    as_chat = isinstance(
        update.effective_sender, Chat
    )  # an anonymous admin: the user id is a placeholder
    text = texts.refusal(
        user.id if user and not as_chat else None, chat.id if chat else None, private
    )
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message and (
        private or (update.effective_message.text or "").startswith("/")
    ):
        await update.effective_message.reply_text(text)
    log.info("refused user %s in chat %s", user.id if user else None, chat.id if chat else None)
    raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the exception with a short reference and tell the user, never silence."""
    faults = services_of(context).chat_faults
    chat = update.effective_chat if isinstance(update, Update) else None
    if (
        faults is not None
        and chat is not None
        and context.error is not None
        and faults.handle(chat.id, context.error) is not None
    ):
        return  # a reply to an upgraded or unreachable chat: rows moved or paused, logged once
    reference = uuid.uuid4().hex[:8]
    log.error("unhandled error (ref %s)", reference, exc_info=context.error)
    if isinstance(update, Update):
        try:
            if update.callback_query:
                await update.callback_query.answer(texts.internal_error(reference), show_alert=True)
            elif update.effective_message:
                await update.effective_message.reply_text(texts.internal_error(reference))
        except Exception:  # noqa: BLE001 - the error handler must not raise
            log.warning("could not tell the user about error %s", reference)


def register(app: Application, services: Services) -> None:
    app.add_handler(TypeHandler(Update, gate), group=GATE_GROUP)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_error_handler(on_error)
