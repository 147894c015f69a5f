"""Groups changing under the bot: supergroup upgrades, removal and blocking, and the Resume button.

- ``migrate_to_chat_id`` / ``migrate_from_chat_id`` service messages move the group's rows to its
  new id (the ``ChatMigrated`` error does the same, through :mod:`bot.telegram.chat_faults`);
- ``my_chat_member`` updates say when the bot was removed from a group or blocked in private
  (pause everything there) and when it is back (say what was paused, offer Resume);
- the Resume button (also under ``/timers``) lets a group admin, or the person in private, put
  the paused reminders back on schedule and start the stopped downloads again.

These handlers run in :data:`CHATS_GROUP`, before the ALLOWED_USERS gate: the service message of
an upgrade comes from the new id, which is not listed yet.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import (
    Chat,
    ChatMember,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.chats.lifecycle import ChatLifecycle, GoneReason, Paused
from bot.downloads.errors import Refused
from bot.downloads.jobs import JobState
from bot.i18n import _
from bot.telegram import dates
from bot.telegram import download_status as render
from bot.telegram.chat_faults import ChatFaults
from bot.telegram.download_reasons import explain_error
from bot.telegram.permissions import may_act_for_group
from bot.telegram.services import Services, services_of
from bot.telegram.texts import display_name, kind_word
from bot.telegram.update_parts import chat_of, member_change_of, message_of, query_of

log = logging.getLogger(__name__)

CHATS_GROUP = -200  # before the gate (basic.GATE_GROUP)
RESUME_DATA = "chat:resume"
LISTED = 15  # paused items named in one message

_AWAY = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


def faults_of(services: Services) -> ChatFaults | None:
    """The :class:`ChatFaults` of a running bot (None before this feature is registered)."""
    return services.chat_faults


def _registered_faults(context: ContextTypes.DEFAULT_TYPE) -> ChatFaults:
    """The :class:`ChatFaults` in this module's handlers, which :func:`register` adds with it."""
    faults = faults_of(services_of(context))
    if faults is None:
        raise RuntimeError("a chats handler ran without the chats feature registered")
    return faults


def resume_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Resume"), callback_data=RESUME_DATA)]])


def paused_lines(paused: Paused) -> list[str]:
    """One line per paused item (the first :data:`LISTED`), for the notice and for ``/timers``."""
    lines = []
    for row in paused.reminders:
        label = f" “{row.label}”" if row.label else ""
        lines.append(
            _("• {ref} {kind}{label} — due {when}").format(
                ref=row.ref,
                kind=kind_word(row.kind),
                label=label,
                when=f"{dates.absolute(row.due, row.tz)} ({row.tz})",
            )
        )
    for job in paused.downloads:
        lines.append(
            _("• d{id} download {name} (stopped; Resume starts it again)").format(
                id=job.id, name=render.label(job)
            )
        )
    if len(lines) > LISTED:
        lines = [*lines[:LISTED], _("…and {count} more.").format(count=len(lines) - LISTED)]
    return lines


def paused_section(services: Services, chat_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """What ``/timers`` adds in a chat with paused items: their list and the Resume button."""
    faults = faults_of(services)
    if faults is None:
        return None
    paused = faults.lifecycle.paused(chat_id)
    if not paused:
        return None
    text = "\n".join(
        [
            _("⏸ Paused while I could not post here:"),
            *paused_lines(paused),
            _("An admin can resume them:"),
        ]
    )
    return text, resume_markup()


# --- supergroup upgrades --------------------------------------------------------------------


async def on_migrate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = message_of(update)
    faults = _registered_faults(context)
    if message.migrate_to_chat_id:
        faults.moved(message.chat_id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        faults.moved(message.migrate_from_chat_id, message.chat_id)


# --- removal, blocking, coming back ---------------------------------------------------------


def _away(member: ChatMember) -> bool:
    """Left, banned, or restricted and no longer a member (Telegram's state for both)."""
    return member.status in _AWAY or (
        isinstance(member, ChatMemberRestricted) and not member.is_member
    )


async def on_my_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = member_change_of(update)
    chat = change.chat
    faults = _registered_faults(context)
    old, new = change.old_chat_member, change.new_chat_member
    away_now, away_before = _away(new), _away(old)
    if away_now and not away_before:
        reason = GoneReason.BLOCKED if chat.type == Chat.PRIVATE else GoneReason.REMOVED
        faults.gone(chat.id, reason, f"by user {change.from_user.id}" if change.from_user else "")
    elif away_before and not away_now:
        was_gone = faults.lifecycle.mark_back(chat.id)
        paused = faults.lifecycle.paused(chat.id)
        log.info(
            "back in chat %s (%s); %d paused reminders, %d stopped downloads",
            chat.id,
            "was unreachable" if was_gone else "new",
            len(paused.reminders),
            len(paused.downloads),
        )
        if paused:
            await _announce_back(context, chat, paused)


async def _announce_back(context: ContextTypes.DEFAULT_TYPE, chat: Chat, paused: Paused) -> None:
    how = (
        _("You can resume them with the button below (they are also under /timers).")
        if chat.type == Chat.PRIVATE
        else _("An admin can resume them with the button below (they are also under /timers).")
    )
    text = "\n".join(
        [_("👋 I'm back. While I could not post here, I paused:"), *paused_lines(paused), how]
    )
    try:
        await context.bot.send_message(chat.id, text, reply_markup=resume_markup())
    except TelegramError as exc:
        log.warning("could not tell chat %s what was paused: %s", chat.id, exc)


# --- Resume ---------------------------------------------------------------------------------


async def _may_resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    if chat_of(update).type == Chat.PRIVATE:
        return True
    return await may_act_for_group(update, context)


async def resume_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = query_of(update)
    if not await _may_resume(update, context):
        await query.answer(
            _("Only an admin of this group can resume what was paused."), show_alert=True
        )
        return
    services = services_of(context)
    chat = chat_of(update)
    taken = await asyncio.to_thread(_registered_faults(context).lifecycle.take_paused, chat.id)
    if not taken:
        await query.answer(_("Nothing is paused here any more."))
        return
    reminders = (
        []
        if services.reminders is None
        else services.reminders.resume([row.id for row in taken.reminders])
    )
    started = 0
    for job in taken.downloads:
        started += await _restart_download(services, context, job)
    by = display_name(update.effective_sender)
    summary = _(
        "▶️ Resumed by {name}: timers/reminders: {reminders}, downloads: {downloads}."
    ).format(name=by, reminders=len(reminders), downloads=started)
    await query.answer(summary)
    if query.message is not None:
        try:
            await query.edit_message_text(summary)
        except TelegramError as exc:
            log.info("could not edit the paused notice in chat %s: %s", chat.id, exc)
    log.info("chat %s: resumed %d reminders and %d downloads", chat.id, len(reminders), started)


async def _restart_download(services: Services, context: ContextTypes.DEFAULT_TYPE, job) -> int:
    """Start a stopped download again as a new job in its chat and topic (or deliver a file that
    finished while the chat was unreachable); 1 when done."""
    downloads, notifier = services.downloads, services.download_notifier
    if downloads is None or notifier is None:
        return 0
    if job.state == JobState.DONE and not job.delivered:
        await notifier.deliver(job)
        return 1
    status = await context.bot.send_message(
        job.chat_id, render.checking(job.url), message_thread_id=job.thread_id
    )
    try:
        await asyncio.to_thread(
            downloads.submit,
            chat_id=job.chat_id,
            thread_id=job.thread_id,
            user_id=job.user_id,
            user_name=job.user_name,
            url=job.url,
            name=job.requested_name,
            request_message_id=None,
            status_message_id=status.message_id,
        )
    except Refused as exc:
        await status.edit_text(
            _("❌ Not started again: {reason}.").format(reason=explain_error(exc))
        )
        return 0
    return 1


# --- wiring ---------------------------------------------------------------------------------


def register(app: Application, services: Services) -> None:
    downloads = services.downloads
    lifecycle = ChatLifecycle(
        services.sessions, downloads.cancel if downloads is not None else None
    )
    faults = ChatFaults(lifecycle, services.settings)
    services.chat_faults = faults
    notifier = services.download_notifier
    if notifier is not None:
        faults.on_moved(notifier.chat_moved)
    languages = services.languages
    if languages is not None:  # an upgraded group keeps its /lang choice
        faults.on_moved(lambda moved: languages.move_chat(moved.old_chat_id, moved.new_chat_id))

    lifecycle.load()  # before any ring can fire: unreachable chats are not tried again
    for new_id in {lifecycle.current_id(old) for old in lifecycle.upgraded_ids()}:
        faults.warn_allowed_id(new_id)  # once per start, for as long as the setting is not updated
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate), group=CHATS_GROUP)
    app.add_handler(
        ChatMemberHandler(on_my_member, ChatMemberHandler.MY_CHAT_MEMBER), group=CHATS_GROUP
    )
    app.add_handler(CallbackQueryHandler(resume_button, pattern=f"^{RESUME_DATA}$"))


async def chat_send(app: Application, chat_id: int, call):
    """``await call(chat_id)`` through :meth:`ChatFaults.send` (upgrades followed, gone chats
    skipped: None); plainly when the chats feature is not registered."""
    faults = faults_of(app.bot_data["services"])
    if faults is None:
        return await call(chat_id)
    return await faults.send(chat_id, call)


def chat_fault(app: Application, chat_id: int, error: BaseException):
    """:meth:`ChatFaults.handle` for an error already caught; None when not a chat fault (or the
    chats feature is not registered)."""
    faults = faults_of(app.bot_data["services"])
    return None if faults is None else faults.handle(chat_id, error)
