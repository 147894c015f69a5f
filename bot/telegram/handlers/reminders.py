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

from bot.i18n import N_, _, use
from bot.reminders.duration import format_duration
from bot.reminders.errors import ReminderInputError
from bot.reminders.recurrence import Recurrence
from bot.reminders.service import Limits, Owner, ReminderService, RingOutcome, describe_late
from bot.reminders.store import TIMER, Reminder
from bot.telegram import dates, send_queue
from bot.telegram.callback_data import parse_number
from bot.telegram.handlers.cancel import add_canceller
from bot.telegram.handlers.chats import chat_fault, chat_send, paused_section
from bot.telegram.permissions import can_manage, sender_id
from bot.telegram.reminder_words import explain
from bot.telegram.repeat_words import repeat_text
from bot.telegram.retry import classify
from bot.telegram.services import Services, services_of
from bot.telegram.texts import display_name, kind_word
from bot.telegram.topics import topic_first, topic_of

log = logging.getLogger(__name__)

MAX_ARGS = 1000  # characters of a command worth reading; longer is refused, not parsed
MIN_EDIT_GAP = 3.0
TIMER_USAGE = N_("Usage: /timer DURATION [label] — a bare number is seconds.\nExamples: /timer 90, /timer 5m tea")
REMIND_USAGE = N_("Usage: /remind WHEN TEXT\nExamples: /remind tomorrow 9am standup, "
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
    rest = text.partition(" ")[2]
    if len(rest) > MAX_ARGS:
        return None
    return rest.strip()


async def _args_or_usage(update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str) -> str | None:
    """The text after the command, or None after telling the user why there is nothing to do."""
    args = _args(update, context)
    if args is None:
        await update.effective_message.reply_text(_("That message is too long for me to read.") + "\n" + _(usage))
    elif not args:
        await update.effective_message.reply_text(_(usage))
    return args or None


def _when(due: datetime, zone_name: str, now: datetime | None = None) -> str:
    """``16:42`` today, ``Sat 09:00`` within a week, ``Thu, Dec 24 18:00`` beyond (in the reader's
    language: :func:`bot.telegram.dates.short`)."""
    return dates.short(due, zone_name, now)


def _state_word(state: str) -> str:
    return {"done": _("done"), "cancelled": _("cancelled"), "missed": _("missed"),
            "undeliverable": _("paused")}.get(state, state)


def _cancel_markup(row: Reminder) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Cancel"), callback_data=f"rm:cancel:{row.id}")]])


def _snooze_markup(row: Reminder) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(_("+5 min"), callback_data=f"rm:snooze:{row.id}:5m"),
        InlineKeyboardButton(_("+1 h"), callback_data=f"rm:snooze:{row.id}:1h"),
        InlineKeyboardButton(_("tomorrow"), callback_data=f"rm:snooze:{row.id}:tomorrow"),
    ]])


def countdown_text(row: Reminder, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    total = format_duration(timedelta(seconds=row.duration or 0))
    left = format_duration(max(row.due - now, timedelta(0)))
    label = f" “{row.label}”" if row.label else ""
    return _("⏳ {total} — rings at {when} ({zone})\n{ref}{label} · {left} left").format(
        total=total, when=_when(row.due, row.tz, now), zone=row.tz, ref=row.ref, label=label, left=left)


def ring_title(row: Reminder) -> str:
    """What an unlabelled ring says: ``t3 · 5 min timer``, so two rings are told apart."""
    if row.kind == TIMER:
        return _("{ref} · {duration} timer").format(ref=row.ref, duration=format_duration(timedelta(seconds=row.duration or 0)))
    return _("{ref} · reminder").format(ref=row.ref)


def absolute_when(due: datetime, zone_name: str) -> str:
    """``Sat 2026-11-28 09:00 (Europe/Berlin)``: weekday, date, time and zone, never relative, so
    that a misreading shows at once."""
    from bot.reminders.zones import zone_label

    zone = _zone(zone_name)
    return f"{dates.absolute(due, zone)} ({zone_label(zone)})"


def reminder_text(row: Reminder) -> str:
    """The confirmation: ``⏰ t5 “standup” — Sat 2026-11-28 09:00 (Europe/Berlin)``; a repeat
    adds how often in words (``every monday at 10:00``) and says the date is the first ring."""
    label = f" “{row.label}”" if row.label else ""
    when = absolute_when(row.due, row.tz)
    if row.recurrence:
        when = _("{repeat}; first {when}").format(repeat=repeat_text(Recurrence.from_spec(row.recurrence)), when=when)
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
        """Ring in the language the reminder was set in (this runs from no update)."""
        with use(row.lang):
            return await self._ring(row, late)

    async def _ring(self, row: Reminder, late: timedelta) -> RingOutcome:
        what = row.label or ring_title(row)
        head = "🔔 " if row.kind == TIMER else "⏰ "
        text, entities = head, []
        if row.in_group:
            text, entities = self._mention(text, row)
        text += what
        if describe_late(late):
            text += "\n" + _("(late by {duration} — I was offline or busy)").format(duration=format_duration(late))
        if row.recurrence:
            text += f"\n{repeat_text(Recurrence.from_spec(row.recurrence))}"

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
            await self._edit(row.chat_id, row.status_message_id, _("🔔 {ref}{label} rang at {when} ({zone})").format(
                ref=row.ref, label=label, when=_when(datetime.now(UTC), row.tz), zone=row.tz), None)
        return RingOutcome.DELIVERED

    @staticmethod
    def _mention(text: str, row: Reminder) -> tuple[str, list[MessageEntity]]:
        name = row.user_name or _("you")
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
            with use(row.lang):
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
            with use(rows[0].lang):
                lines = [_("📭 Missed while I was offline:")]
                for row in rows[:20]:
                    label = f" “{row.label}”" if row.label else ""
                    lines.append(_("• {ref}{label} — was due {when} ({zone})").format(
                        ref=row.ref, label=label, when=dates.absolute(row.due, row.tz), zone=row.tz))
                if len(rows) > 20:
                    lines.append(_("…and {count} more.").format(count=len(rows) - 20))
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
            await update.effective_message.reply_text(_("Nothing pending here. Start one: /timer 5m tea or /remind in 1h stretch"))
        return
    lines = [_("Pending in this chat:") if group else _("Your pending timers and reminders:")]
    topic = topic_of(update.effective_message)
    rows = topic_first(rows, topic)
    if topic is not None:  # this topic's first, then the rest of the group under a heading
        lines = [_("Pending in this topic:") if rows[0].thread_id == topic else _("Nothing pending in this topic.")]
    for index, row in enumerate(rows[:50]):
        if topic is not None and row.thread_id != topic and (index == 0 or rows[index - 1].thread_id == topic):
            lines.append(_("Elsewhere in this chat:"))
        label = f" “{row.label}”" if row.label else ""
        how = f", {repeat_text(Recurrence.from_spec(row.recurrence))}" if row.recurrence else ""
        who = f" — {row.user_name}" if group else ""
        lines.append(f"{row.ref} {kind_word(row.kind)}{label} — {_when(row.due, row.tz)} ({row.tz}){how}{who}")
    if len(rows) > 50:
        lines.append(_("…and {count} more.").format(count=len(rows) - 50))
    lines.append(_("Cancel one with /cancel ID, e.g. /cancel {ref}").format(ref=rows[0].ref))
    await update.effective_message.reply_text("\n".join(lines))


async def tz_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, service = update.effective_message, _service(context)
    args = _args(update, context)
    if not args:
        zone = service.zone_of(sender_id(update))
        now = datetime.now(zone)
        await message.reply_text(_("Your time zone is {zone} (now {time}). Change it: /tz Europe/Berlin").format(
            zone=zone.key, time=dates.clock(now, zone)))
        return
    try:
        zone = service.set_zone(sender_id(update), args)
    except ReminderInputError as exc:
        await message.reply_text(explain(exc))
        return
    await message.reply_text(_("Time zone set to {zone} (now {time}). New timers and reminders use it.").format(
        zone=zone.key, time=dates.clock(datetime.now(zone), zone)))


async def _cancel(update: Update, context: ContextTypes.DEFAULT_TYPE, number: int) -> str:
    """Cancel t``number`` if the person may; the answer to show."""
    service = _service(context)
    row = service.get(number)
    if row is None or row.chat_id != update.effective_chat.id:
        return _("There is no timer or reminder t{number} in this chat. See /timers").format(number=number)
    if row.state != "pending":
        return _("{ref} is no longer pending ({state}).").format(ref=row.ref, state=_state_word(row.state))
    if not await can_manage(update, context, row.user_id):
        return _("Only {name} or a group admin can cancel {ref}.").format(
            name=row.user_name or _("its creator"), ref=row.ref)
    if service.cancel(number) is None:
        return _("{ref} is no longer pending.").format(ref=row.ref)
    label = f" “{row.label}”" if row.label else ""
    if row.status_message_id:
        await _chat(context)._edit(row.chat_id, row.status_message_id,
                                   _("✖️ {ref}{label} cancelled.").format(ref=row.ref, label=label), None)
    return _("Cancelled {ref}{label}.").format(ref=row.ref, label=label)


async def cancel_by_id(update: Update, context: ContextTypes.DEFAULT_TYPE, number: int) -> None:
    """``/cancel t12``, routed here by :mod:`bot.telegram.handlers.cancel`."""
    await update.effective_message.reply_text(await _cancel(update, context, number))


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    parts = (query.data or "").split(":")
    number = parse_number(parts[2] if len(parts) > 2 else "")
    if number is None or update.effective_chat is None:
        log.warning("reminder button with data %r that does not parse; answered", (query.data or "")[:80])
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
        await query.answer(_("Only {name} or a group admin can snooze this.").format(name=row.user_name or _("its creator")))
        return
    owner = Owner(row.chat_id, row.user_id, row.user_name, row.chat_type, query.message.message_id if query.message else None)
    try:
        new = service.snooze(number, parts[3] if len(parts) > 3 else "", owner)
    except ReminderInputError as exc:
        await query.answer(explain(exc))
        return
    note = _("💤 Snoozed as {ref} until {when} ({zone})").format(ref=new.ref, when=_when(new.due, new.tz), zone=new.tz)
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
    services.add_stats(lambda: [_("Timers and reminders pending: {count}").format(count=service.pending_count())])
    # New messages only: editing "/timer 5" into "/timer 10" must not start a second timer.
    new_only = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("timer", timer_command, filters=new_only))
    app.add_handler(CommandHandler("remind", remind_command, filters=new_only))
    app.add_handler(CommandHandler(["timers", "reminders"], list_command, filters=new_only))
    app.add_handler(CommandHandler("tz", tz_command, filters=new_only))
    app.add_handler(CallbackQueryHandler(button, pattern=r"^rm:(cancel|snooze):\d+(:\w+)?$"))
