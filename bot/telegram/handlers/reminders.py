"""``/timer``, ``/remind``, ``/timers`` (``/reminders``), ``/tz``, ``/cancel t12`` and the buttons.

Thin: each handler turns the message into an :class:`~bot.reminders.service.Owner` and the
command's text, calls :class:`~bot.reminders.service.ReminderService`, and renders its answer with
:mod:`bot.telegram.reminder_status`. Rings and countdown edits, sent later from no update, are
:class:`~bot.telegram.reminder_notifier.ReminderNotifier`'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.i18n import N_, _
from bot.reminders.alarms import Alarms
from bot.reminders.errors import ReminderInputError
from bot.reminders.service import Limits, Owner, ReminderService
from bot.reminders.store import Reminder, ReminderState
from bot.telegram import dates
from bot.telegram import reminder_status as status
from bot.telegram.callback_data import parse_number
from bot.telegram.handlers.cancel import add_canceller
from bot.telegram.handlers.chats import paused_section
from bot.telegram.permissions import can_manage, sender_id
from bot.telegram.reminder_notifier import ReminderNotifier
from bot.telegram.reminder_words import explain
from bot.telegram.services import Services, required, services_of
from bot.telegram.texts import display_name
from bot.telegram.topics import topic_first, topic_of
from bot.telegram.update_parts import chat_of, message_of, query_of

log = logging.getLogger(__name__)

MAX_ARGS = 1000  # characters of a command worth reading; longer is refused, not parsed
TIMER_USAGE = N_(
    "Usage: /timer DURATION [label] — a bare number is seconds.\nExamples: /timer 90, /timer 5m tea"
)
REMIND_USAGE = N_(
    "Usage: /remind WHEN TEXT\nExamples: /remind tomorrow 9am standup, "
    "/remind every monday 10:00 report, /remind 明天早上9点 开会\nAll forms: /help remind"
)


def _service(context: ContextTypes.DEFAULT_TYPE) -> ReminderService:
    return required(services_of(context).reminders)


def _notifier(context: ContextTypes.DEFAULT_TYPE) -> ReminderNotifier:
    return required(services_of(context).reminder_notifier)


def _owner(update: Update) -> Owner:
    chat, message = chat_of(update), message_of(update)
    return Owner(
        chat_id=chat.id,
        user_id=sender_id(update),
        user_name=display_name(update.effective_sender),
        chat_type=chat.type,
        reply_to=message.message_id,
        thread_id=topic_of(message),
    )


def _args(update: Update) -> str | None:
    """The text after the command, stripped; None when it is too long to read."""
    text = message_of(update).text or ""
    rest = text.partition(" ")[2]
    if len(rest) > MAX_ARGS:
        return None
    return rest.strip()


async def _args_or_usage(update: Update, usage: str) -> str | None:
    """The text after the command, or None after telling the user why there is nothing to do."""
    args, message = _args(update), message_of(update)
    if args is None:
        await message.reply_text(_("That message is too long for me to read.") + "\n" + _(usage))
    elif not args:
        await message.reply_text(_(usage))
    return args or None


# --- commands -------------------------------------------------------------------------------


async def timer_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    service = _service(context)
    row = await _add(update, context, TIMER_USAGE, service.add_timer, status.countdown_text)
    if row is not None:
        _notifier(context).schedule_tick(row)


async def remind_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    service = _service(context)
    await _add(update, context, REMIND_USAGE, service.add_reminder, status.reminder_text)


async def _add(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    usage: str,
    add: Callable[[Owner, str, int | None], Reminder],
    confirmation: Callable[[Reminder], str],
) -> Reminder | None:
    """What /timer and /remind share: the usage when there is nothing to do, the row added (on a
    worker thread: it writes the database), a short answer to what was not understood, and the
    confirmation with its cancel button, whose message the row keeps (countdowns edit it)."""
    message = message_of(update)
    args = await _args_or_usage(update, usage)
    if args is None:
        return None
    try:
        row = await asyncio.to_thread(add, _owner(update), args, update.update_id)
    except ReminderInputError as exc:
        await message.reply_text(explain(exc))
        return None
    sent = await message.reply_text(confirmation(row), reply_markup=status.cancel_markup(row))
    _service(context).set_status_message(row.id, sent.message_id)
    row.status_message_id = sent.message_id
    return row


async def list_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat, message = chat_of(update), message_of(update)
    group = chat.type != ChatType.PRIVATE
    rows = _service(context).pending_in_chat(chat.id, None if group else sender_id(update))
    paused = paused_section(services_of(context), chat.id)
    if paused is not None:
        await message.reply_text(paused[0], reply_markup=paused[1])
    if not rows:
        if paused is None:
            await message.reply_text(
                _("Nothing pending here. Start one: /timer 5m tea or /remind in 1h stretch")
            )
        return
    topic = topic_of(message)
    await message.reply_text(status.pending_list(topic_first(rows, topic), group, topic))


async def tz_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, service = message_of(update), _service(context)
    args = _args(update)
    if not args:
        zone = service.zones.zone_of(sender_id(update))
        now = datetime.now(zone)
        await message.reply_text(
            _("Your time zone is {zone} (now {time}). Change it: /tz Europe/Berlin").format(
                zone=zone.key, time=dates.clock(now, zone)
            )
        )
        return
    try:
        zone = service.zones.set_zone(sender_id(update), args)
    except ReminderInputError as exc:
        await message.reply_text(explain(exc))
        return
    await message.reply_text(
        _("Time zone set to {zone} (now {time}). New timers and reminders use it.").format(
            zone=zone.key, time=dates.clock(datetime.now(zone), zone)
        )
    )


async def _cancel(update: Update, context: ContextTypes.DEFAULT_TYPE, number: int) -> str:
    """Cancel t``number`` if the person may; the answer to show."""
    service = _service(context)
    row = service.get(number)
    if row is None or row.chat_id != chat_of(update).id:
        return _("There is no timer or reminder t{number} in this chat. See /timers").format(
            number=number
        )
    if row.state != ReminderState.PENDING:
        return _("{ref} is no longer pending ({state}).").format(
            ref=row.ref, state=status.state_word(row.state)
        )
    if not await can_manage(update, context, row.user_id):
        return _("Only {name} or a group admin can cancel {ref}.").format(
            name=row.user_name or _("its creator"), ref=row.ref
        )
    if service.cancel(number) is None:
        return _("{ref} is no longer pending.").format(ref=row.ref)
    if row.status_message_id:
        await _notifier(context).edit_status(
            row.chat_id, row.status_message_id, status.cancelled_status(row)
        )
    return status.cancelled_reply(row)


async def cancel_by_id(update: Update, context: ContextTypes.DEFAULT_TYPE, number: int) -> None:
    """``/cancel t12``, routed here by :mod:`bot.telegram.handlers.cancel`."""
    await message_of(update).reply_text(await _cancel(update, context, number))


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = query_of(update)
    parts = (query.data or "").split(":")
    number = parse_number(parts[2] if len(parts) > 2 else "")
    if number is None or update.effective_chat is None:
        log.warning(
            "reminder button with data %r that does not parse; answered", (query.data or "")[:80]
        )
        await query.answer(_("That button no longer works."))
        return
    if parts[1] == "cancel":
        await query.answer(await _cancel(update, context, number))
        return
    service = _service(context)
    row = service.get(number)
    if row is None or row.chat_id != update.effective_chat.id:
        await query.answer(_("That reminder no longer exists."))
        return
    if not await can_manage(update, context, row.user_id):
        await query.answer(
            _("Only {name} or a group admin can snooze this.").format(
                name=row.user_name or _("its creator")
            )
        )
        return
    owner = Owner(
        row.chat_id,
        row.user_id,
        row.user_name,
        row.chat_type,
        query.message.message_id if query.message else None,
    )
    try:
        new = service.snooze(number, parts[3] if len(parts) > 3 else "", owner)
    except ReminderInputError as exc:
        await query.answer(explain(exc))
        return
    note = status.snoozed_note(new)
    await query.answer(note)
    if isinstance(query.message, Message):  # an old message may be inaccessible to the bot
        await query.message.reply_text(note, reply_markup=status.cancel_markup(new))


def register(app: Application, services: Services) -> None:
    # One scheduler per process: the rings and the countdown edits are jobs on the JobQueue's,
    # beside download housekeeping; the application starts and stops it.
    scheduler = app.job_queue.scheduler if app.job_queue is not None else None
    service = ReminderService(
        services.sessions,
        lambda row, late: notifier.ring(row, late),
        limits=Limits.from_settings(services.settings),
        default_tz=services.settings.default_tz,
        scheduler=scheduler,
        missed=lambda rows: notifier.list_missed(rows),
        shared_database=services.role.shared_database,
    )
    notifier = ReminderNotifier(
        app, service, Alarms(service.scheduler), rings=services.role.runs_work
    )
    services.reminders = service
    services.reminder_notifier = notifier
    add_canceller(services, "t", cancel_by_id)
    services.add_startup(notifier.start)
    services.add_shutdown(notifier.stop)
    services.add_stats(
        lambda: [_("Timers and reminders pending: {count}").format(count=service.pending_count())]
    )
    # New messages only: editing "/timer 5" into "/timer 10" must not start a second timer.
    new_only = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("timer", timer_command, filters=new_only))
    app.add_handler(CommandHandler("remind", remind_command, filters=new_only))
    app.add_handler(CommandHandler(["timers", "reminders"], list_command, filters=new_only))
    app.add_handler(CommandHandler("tz", tz_command, filters=new_only))
    app.add_handler(CallbackQueryHandler(button, pattern=r"^rm:(cancel|snooze):\d+(:\w+)?$"))
