"""Who may do what: the ALLOWED_USERS gate and "may this person manage that item".

Being allowed to use the bot and being allowed to cancel someone else's download or reminder are
different questions. The first is answered from settings alone; the second also asks Telegram
whether the person is an administrator of the group (``getChatMember``).
"""

from __future__ import annotations

import logging

from telegram import Chat, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.config import Settings

log = logging.getLogger(__name__)


def sender_id(update: Update) -> int:
    """Whose downloads, quota, reminders and time zone these are: the sender's id.

    Telegram sends every anonymous group admin's message "from" one shared bot user
    (GroupAnonymousBot), and posts of a linked channel from another, naming the real sender in
    ``sender_chat``. PTB's ``effective_sender`` is that chat for them; keyed by the shared user id
    instead, the anonymous admins of every group would share one quota and one set of items.
    """
    sender = update.effective_sender
    return sender.id if sender is not None else 0


def is_allowed(settings: Settings, user_id: int | None, chat_id: int | None) -> bool:
    """True when the user, or the chat they write in, is in ALLOWED_USERS, or they are an admin."""
    if user_id is not None and (
        user_id in settings.allowed_users or user_id in settings.admin_users
    ):
        return True
    return chat_id is not None and chat_id in settings.allowed_users and chat_id < 0


def is_bot_admin(settings: Settings, user_id: int | None) -> bool:
    """True for the bot's own administrators (ADMIN_USERS)."""
    return (
        user_id is not None
        and not settings.admin_users.everyone
        and user_id in settings.admin_users
    )


async def is_chat_admin(
    context: ContextTypes.DEFAULT_TYPE, chat: Chat | None, user_id: int
) -> bool:
    """True when ``user_id`` administers the group ``chat`` (asks Telegram; False on error)."""
    if chat is None or chat.type == Chat.PRIVATE:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user_id)
    except TelegramError as exc:
        log.warning("getChatMember failed for chat %s: %s", chat.id, exc)
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


async def can_manage(
    update: Update, context: ContextTypes.DEFAULT_TYPE, owner_user_id: int
) -> bool:
    """May the person behind ``update`` manage an item owned by ``owner_user_id``?

    Yes for the owner, and for whoever may act for the group it lives in
    (:func:`may_act_for_group`).
    """
    sender = update.effective_sender
    if sender is not None and sender.id == owner_user_id:
        return True
    return await may_act_for_group(update, context)


async def may_act_for_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """May the person behind ``update`` act for the group it comes from (resume what was paused
    there, set its language, manage anyone's items)? Yes for ADMIN_USERS and for an
    administrator of the group, including one who writes anonymously (as the group itself)."""
    sender, chat = update.effective_sender, update.effective_chat
    if isinstance(sender, Chat) and chat is not None and sender.id == chat.id:
        return True  # only the group's administrators can write as the group
    user = update.effective_user
    if user is None:
        return False
    settings = context.application.bot_data["services"].settings
    if is_bot_admin(settings, user.id):
        return True
    return await is_chat_admin(context, update.effective_chat, user.id)
