"""``/timer``, ``/remind``, ``/timers`` (``/reminders``), ``/tz``, ``/cancel t12`` and the buttons.

Thin: each handler turns the message into an :class:`~bot.reminders.service.Owner` and the
command's text, calls :class:`~bot.reminders.service.ReminderService`, and renders its answer.
Two things live here because they are about Telegram, not about time:

- the **countdown**: a timer's confirmation is edited at a flood-safe pace (every 10 s in the last
  minute, every minute in the last hour, hourly before; never faster than every 3 s) by jobs on
  the service's own scheduler;
- the **ring**: a *new* message (edits do not notify), replying to the command, mentioning the
  person in a group, with snooze buttons; if it is late, it says by how much. It goes first in the
  send queue and is retried until Telegram takes it (:data:`bot.telegram.send_queue.RING`); only
  a chat that cannot be written to makes it undeliverable.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.reminders.duration import format_duration
from bot.reminders.errors import ReminderInputError
from bot.reminders.recurrence import Recurrence
from bot.reminders.service import Limits, Owner, ReminderService, RingOutcome, describe_late
from bot.reminders.store import TIMER, Reminder
from bot.telegram import send_queue
from bot.telegram.callback_data import parse_number
from bot.telegram.handlers.cancel import add_canceller
from bot.telegram.handlers.chats import chat_fault, chat_send, paused_section
from bot.telegram.permissions import can_manage, sender_id
from bot.telegram.reminder_words import explain
from bot.telegram.retry import classify
from bot.telegram.services import Services, services_of
from bot.telegram.texts import display_name
from bot.telegram.topics import topic_first, topic_of

log = logging.getLogger(__name__)

MAX_ARGS = 1000  # characters of a command worth reading; longer is refused, not parsed
MIN_EDIT_GAP = 3.0
TIMER_USAGE = "Usage: /timer DURATION [label] — a bare number is seconds.\nExamples: /timer 90, /timer 5m tea"
REMIND_USAGE = ("Usage: /remind WHEN TEXT\nExamples: /remind tomorrow 9am standup, "
                "/remind every monday 10:00 report, /remind 明天早上9点 开会\nAll forms: /help remind")


def _service(context: ContextTypes.DEFAULT_TYPE) -> ReminderService:
    return services_of(context).extras["reminders"]


def _owner(update: Update) -> Owner:
    chat, message = update.effective_chat, update.effective_message
    return Owner(chat_id=chat.id, user_id=sender_id(update), user_name=display_name(update.effective_sender),
                 chat_type=chat.type, reply_to=message.message_id if message else None,
                 thread_id=topic_of(message))


def _args(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The text after the command, stripped; None when it is too long to read."""
    text = update.effective_message.text or ""
    _, _, rest = text.partition(" ")
    if len(rest) > MAX_ARGS:
        return None
    return rest.strip()


async def _args_or_usage(update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str) -> str | None:
    """The text after the command, or None after telling the user why there is nothing to do."""
    args = _args(update, context)
    if args is None:
        await update.effective_message.reply_text(f"That message is too long for me to read.\n{usage}")
    elif not args:
        await update.effective_message.reply_text(usage)
    return args or None


def _when(due: datetime, zone_name: str, now: datetime | None = None) -> str:
    """``16:42`` today, ``Sat 09:00`` within a week, ``2026-12-24 18:00`` beyond."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    local, today = due.astimezone(zone), (now or datetime.now(UTC)).astimezone(zone)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if timedelta(0) < local - today < timedelta(days=6):
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def _cancel_markup(row: Reminder) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data=f"rm:cancel:{row.id}")]])


def _snooze_markup(row: Reminder) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("+5 min", callback_data=f"rm:snooze:{row.id}:5m"),
        InlineKeyboardButton("+1 h", callback_data=f"rm:snooze:{row.id}:1h"),
        InlineKeyboardButton("tomorrow", callback_data=f"rm:snooze:{row.id}:tomorrow"),
    ]])


def countdown_text(row: Reminder, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    total = format_duration(timedelta(seconds=row.duration or 0))
    left = format_duration(max(row.due - now, timedelta(0)))
    label = f" “{row.label}”" if row.label else ""
    return (f"⏳ {total} — rings at {_when(row.due, row.tz, now)} ({row.tz})\n"
            f"{row.ref}{label} · {left} left")


def ring_title(row: Reminder) -> str:
    """What an unlabelled ring says: ``t3 · 5 min timer``, so two rings are told apart."""
    if row.kind == TIMER:
        return f"{row.ref} · {format_duration(timedelta(seconds=row.duration or 0))} timer"
    return f"{row.ref} · reminder"


def absolute_when(due: datetime, zone_name: str) -> str:
    """``Sat 2026-11-28 09:00 (Europe/Berlin)``: weekday, date, time and zone, never relative, so
    that a misreading shows at once."""
    from bot.reminders.zones import zone_label

    zone = _zone(zone_name)
    return f"{due.astimezone(zone):%a %Y-%m-%d %H:%M} ({zone_label(zone)})"


def reminder_text(row: Reminder) -> str:
    """The confirmation: ``⏰ t5 “standup” — Sat 2026-11-28 09:00 (Europe/Berlin)``; a repeat
    adds how often in words (``every monday at 10:00``) and says the date is the first ring."""
    label = f" “{row.label}”" if row.label else ""
    when = absolute_when(row.due, row.tz)
    if row.recurrence:
        when = f"{Recurrence.from_spec(row.recurrence).phrase()}; first {when}"
    return f"⏰ {row.ref}{label} — {when}"


def next_edit_in(remaining: float) -> float | None:
    """Seconds until the countdown's next edit, or None when it should stop being edited.

    Hourly beyond an hour, every minute within the hour, every 10 s in the last minute; a step
    that would land within 3 s of the ring falls back to a finer one (or none).
    """
    tier = 3600.0 if remaining > 3600 else 60.0 if remaining > 60 else 10.0
    for step in (3600.0, 60.0, 10.0):
        if step <= tier and remaining - step >= MIN_EDIT_GAP:
            return max(step, MIN_EDIT_GAP)
    return None


class Chat:
    """The reminder feature's Telegram side: rings, countdowns, the missed-while-offline notes."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.service: ReminderService | None = None

    # --- ringing ---------------------------------------------------------------------------

    async def ring(self, row: Reminder, late: timedelta) -> RingOutcome:
        what = row.label or ring_title(row)
        head = "🔔 " if row.kind == TIMER else "⏰ "
        text, entities = head, []
        if row.in_group:
            text, entities = self._mention(text, row)
        text += what
        late_note = describe_late(late)
        if late_note:
            text += f"\n({late_note} — I was offline or busy)"
        if row.recurrence:
            text += f"\n{Recurrence.from_spec(row.recurrence).phrase()}"

        async def send(chat_id: int):
            reply_to = row.reply_to if chat_id == row.chat_id else None  # an upgraded group: new ids
            return await self.app.bot.send_message(
                chat_id, text, entities=entities or None, reply_markup=_snooze_markup(row),
                message_thread_id=row.thread_id,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
                rate_limit_args=send_queue.RING,
            )

        try:
            sent = await chat_send(self.app, row.chat_id, send)
        except TelegramError as exc:  # the RING policy retried all that can be retried…
            if classify(exc).retryable:  # …unless the bot is stopping: pending, rung next start
                raise
            log.warning("ring %s to chat %s is undeliverable (%s): %s", row.ref, row.chat_id,
                        classify(exc).value, exc)
            return RingOutcome.UNDELIVERABLE
        if sent is None:  # the chat is gone: bot.chats paused its rows (they await Resume)
            return RingOutcome.UNDELIVERABLE
        if sent.chat_id != row.chat_id:
            return RingOutcome.DELIVERED  # upgraded: the old confirmation is not editable
        if row.kind == TIMER and row.status_message_id:
            label = f" “{row.label}”" if row.label else ""
            await self._edit(row.chat_id, row.status_message_id,
                             f"🔔 {row.ref}{label} rang at {_when(datetime.now(UTC), row.tz)} ({row.tz})", None)
        return RingOutcome.DELIVERED

    @staticmethod
    def _mention(text: str, row: Reminder) -> tuple[str, list[MessageEntity]]:
        name = row.user_name or "you"
        if name.startswith("@") or row.user_id <= 0:  # a chat (anonymous admin) cannot be mentioned
            return f"{text}{name} ", []
        offset = len(text.encode("utf-16-le")) // 2
        entity = MessageEntity(MessageEntity.TEXT_MENTION, offset, len(name.encode("utf-16-le")) // 2,
                               user=User(row.user_id, name, False))
        return f"{text}{name} ", [entity]

    async def _edit(self, chat_id: int, message_id: int, text: str, markup) -> None:
        try:
            await self.app.bot.edit_message_text(text, chat_id, message_id, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.info("countdown edit in chat %s failed: %s", chat_id, exc)
        except (ChatMigrated, Forbidden) as exc:  # about the chat: move its rows, or pause them
            if chat_fault(self.app, chat_id, exc) is None:
                log.info("countdown edit in chat %s failed: %s", chat_id, exc)
        except TelegramError as exc:
            log.info("countdown edit in chat %s failed: %s", chat_id, exc)

    # --- countdown -------------------------------------------------------------------------

    def schedule_tick(self, row: Reminder) -> None:
        remaining = row.due_at - datetime.now(UTC).timestamp()
        step = next_edit_in(remaining)
        if step is None or self.service is None:
            return
        self.service.scheduler.add_job(
            self.tick, "date", run_date=datetime.now(UTC) + timedelta(seconds=step), args=[row.id],
            id=f"cd{row.id}", replace_existing=True, misfire_grace_time=30,
        )

    async def tick(self, reminder_id: int) -> None:
        row = self.service.get(reminder_id)
        if row is None or row.state != "pending" or not row.status_message_id:
            return
        try:
            await self._edit(row.chat_id, row.status_message_id, countdown_text(row), _cancel_markup(row))
        except asyncio.CancelledError:  # stopping while the edit waited its turn: nothing lost
            return
        self.schedule_tick(row)

    # --- start-up --------------------------------------------------------------------------

    async def start(self, _app: Application) -> None:
        report = self.service.start()
        by_topic: dict[tuple[int, int | None], list[Reminder]] = {}
        for rows in report.missed.values():
            for row in rows:
                by_topic.setdefault((row.chat_id, row.thread_id), []).append(row)
        for (chat_id, thread_id), rows in by_topic.items():
            lines = ["📭 Missed while I was offline:"]
            for row in rows[:20]:
                label = f" “{row.label}”" if row.label else ""
                lines.append(f"• {row.ref}{label} — was due {row.due.astimezone(_zone(row.tz)):%Y-%m-%d %H:%M} ({row.tz})")
            if len(rows) > 20:
                lines.append(f"…and {len(rows) - 20} more.")
            try:
                text = "\n".join(lines)
                await chat_send(self.app, chat_id, lambda chat, text=text, thread_id=thread_id:
                                self.app.bot.send_message(chat, text, message_thread_id=thread_id))
            except TelegramError as exc:
                log.warning("could not list missed reminders in chat %s: %s", chat_id, exc)
        for row in self._timers():  # countdowns resume after a restart
            self.schedule_tick(row)

    def _timers(self) -> list[Reminder]:
        from sqlalchemy import select

        from bot.reminders.store import PENDING

        with self.service.sessions() as session:
            return list(session.scalars(select(Reminder).where(
                Reminder.state == PENDING, Reminder.kind == TIMER,
                Reminder.status_message_id.is_not(None))).all())

    async def stop(self, _app: Application) -> None:
        self.service.shutdown()


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _chat(context: ContextTypes.DEFAULT_TYPE) -> Chat:
    return services_of(context).extras["reminders_chat"]


# --- commands -------------------------------------------------------------------------------

async def timer_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    args = await _args_or_usage(update, context, TIMER_USAGE)
    if args is None:
        return
    try:
        row = _service(context).add_timer(_owner(update), args, request_id=update.update_id)
    except ReminderInputError as exc:
        await message.reply_text(explain(exc))
        return
    sent = await message.reply_text(countdown_text(row), reply_markup=_cancel_markup(row))
    _service(context).set_status_message(row.id, sent.message_id)
    row.status_message_id = sent.message_id
    _chat(context).schedule_tick(row)


async def remind_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    args = await _args_or_usage(update, context, REMIND_USAGE)
    if args is None:
        return
    try:
        row = await asyncio.to_thread(_service(context).add_reminder, _owner(update), args,
                                      update.update_id)
    except ReminderInputError as exc:
        await message.reply_text(explain(exc))
        return
    sent = await message.reply_text(reminder_text(row), reply_markup=_cancel_markup(row))
    _service(context).set_status_message(row.id, sent.message_id)


async def list_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    group = chat.type != ChatType.PRIVATE
    rows = _service(context).pending_in_chat(chat.id, None if group else sender_id(update))
    paused = paused_section(services_of(context), chat.id)
    if paused is not None:
        await update.effective_message.reply_text(paused[0], reply_markup=paused[1])
    if not rows:
        if paused is None:
            await update.effective_message.reply_text("Nothing pending here. Start one: /timer 5m tea or /remind in 1h stretch")
        return
    lines = ["Pending in this chat:" if group else "Your pending timers and reminders:"]
    topic = topic_of(update.effective_message)
    rows = topic_first(rows, topic)
    if topic is not None:  # this topic's first, then the rest of the group under a heading
        lines = ["Pending in this topic:" if rows[0].thread_id == topic else "Nothing pending in this topic."]
    for index, row in enumerate(rows[:50]):
        if topic is not None and row.thread_id != topic and (index == 0 or rows[index - 1].thread_id == topic):
            lines.append("Elsewhere in this chat:")
        label = f" “{row.label}”" if row.label else ""
        how = f", {Recurrence.from_spec(row.recurrence).phrase()}" if row.recurrence else ""
        who = f" — {row.user_name}" if group else ""
        lines.append(f"{row.ref} {row.kind}{label} — {_when(row.due, row.tz)} ({row.tz}){how}{who}")
    if len(rows) > 50:
        lines.append(f"…and {len(rows) - 50} more.")
    lines.append("Cancel one with /cancel ID, e.g. /cancel " + rows[0].ref)
    await update.effective_message.reply_text("\n".join(lines))


async def tz_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, service = update.effective_message, _service(context)
    args = _args(update, context)
    if not args:
        zone = service.zone_of(sender_id(update))
        now = datetime.now(zone)
        await message.reply_text(f"Your time zone is {zone.key} (now {now:%H:%M}). Change it: /tz Europe/Berlin")
        return
    try:
        zone = service.set_zone(sender_id(update), args)
    except ReminderInputError as exc:
        await message.reply_text(explain(exc))
        return
    await message.reply_text(f"Time zone set to {zone.key} (now {datetime.now(zone):%H:%M}). "
                             "New timers and reminders use it.")


async def _cancel(update: Update, context: ContextTypes.DEFAULT_TYPE, number: int) -> str:
    """Cancel t``number`` if the person may; the answer to show."""
    service = _service(context)
    row = service.get(number)
    if row is None or row.chat_id != update.effective_chat.id:
        return f"There is no timer or reminder t{number} in this chat. See /timers"
    if row.state != "pending":
        return f"{row.ref} is no longer pending ({row.state})."
    if not await can_manage(update, context, row.user_id):
        return f"Only {row.user_name or 'its creator'} or a group admin can cancel {row.ref}."
    if service.cancel(number) is None:
        return f"{row.ref} is no longer pending."
    label = f" “{row.label}”" if row.label else ""
    if row.status_message_id:
        await _chat(context)._edit(row.chat_id, row.status_message_id, f"✖️ {row.ref}{label} cancelled.", None)
    return f"Cancelled {row.ref}{label}."


async def cancel_by_id(update: Update, context: ContextTypes.DEFAULT_TYPE, number: int) -> None:
    """``/cancel t12``, routed here by :mod:`bot.telegram.handlers.cancel`."""
    await update.effective_message.reply_text(await _cancel(update, context, number))


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    parts = (query.data or "").split(":")
    number = parse_number(parts[2] if len(parts) > 2 else "")
    if number is None or update.effective_chat is None:
        log.warning("reminder button with data %r that does not parse; answered", (query.data or "")[:80])
        await query.answer("That button no longer works.")
        return
    if parts[1] == "cancel":
        await query.answer(await _cancel(update, context, number))
        return
    service = _service(context)
    row = service.get(number)
    if row is None or row.chat_id != update.effective_chat.id:
        await query.answer("That reminder no longer exists.")
        return
    if not await can_manage(update, context, row.user_id):
        await query.answer(f"Only {row.user_name or 'its creator'} or a group admin can snooze this.")
        return
    owner = Owner(row.chat_id, row.user_id, row.user_name, row.chat_type, query.message.message_id if query.message else None)
    try:
        new = service.snooze(number, parts[3] if len(parts) > 3 else "", owner)
    except ReminderInputError as exc:
        await query.answer(explain(exc))
        return
    note = f"💤 Snoozed as {new.ref} until {_when(new.due, new.tz)} ({new.tz})"
    await query.answer(note)
    if query.message is not None:
        await query.message.reply_text(note, reply_markup=_cancel_markup(new))


def register(app: Application, services: Services) -> None:
    chat = Chat(app)
    service = ReminderService(services.sessions, chat.ring, limits=Limits.from_settings(services.settings),
                              default_tz=services.settings.default_tz)
    chat.service = service
    services.extras["reminders"] = service
    services.extras["reminders_chat"] = chat
    add_canceller(services, "t", cancel_by_id)
    services.add_startup(chat.start)
    services.add_shutdown(chat.stop)
    services.add_stats(lambda: [f"Timers and reminders pending: {service.pending_count()}"])
    # New messages only: editing "/timer 5" into "/timer 10" must not start a second timer.
    new_only = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("timer", timer_command, filters=new_only))
    app.add_handler(CommandHandler("remind", remind_command, filters=new_only))
    app.add_handler(CommandHandler(["timers", "reminders"], list_command, filters=new_only))
    app.add_handler(CommandHandler("tz", tz_command, filters=new_only))
    app.add_handler(CallbackQueryHandler(button, pattern=r"^rm:(cancel|snooze):\d+(:\w+)?$"))
