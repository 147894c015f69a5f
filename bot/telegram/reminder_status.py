"""What timers and reminders say in the chat, as pure functions of the row: the confirmation, the
countdown, the ring, ``/timers`` and the note about rings missed while the bot was offline.

Kept apart from the handlers and the notifier (as :mod:`bot.telegram.download_status` is for
downloads) so the wording is read and tested in one place, in the reader's language; sending and
editing live in :mod:`bot.telegram.reminder_notifier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, User

from bot.i18n import _
from bot.reminders.duration import format_duration
from bot.reminders.recurrence import Recurrence
from bot.reminders.service import is_late
from bot.reminders.store import Reminder, ReminderKind, ReminderState
from bot.reminders.zones import zone_label
from bot.telegram import dates
from bot.telegram.repeat_words import repeat_text
from bot.telegram.texts import kind_word

#: How many rows ``/timers`` and the missed-rings note show before "…and N more".
LIST_LIMIT = 50
MISSED_LIMIT = 20


def _label(row: Reminder) -> str:
    return f" “{row.label}”" if row.label else ""


def _repeat(row: Reminder) -> str:
    return repeat_text(Recurrence.from_spec(row.recurrence)) if row.recurrence else ""


def when_short(due: datetime, zone_name: str, now: datetime | None = None) -> str:
    """``16:42`` today, ``Sat 09:00`` within a week, ``Thu, Dec 24 18:00`` beyond (in the reader's
    language: :func:`bot.telegram.dates.short`)."""
    return dates.short(due, zone_name, now)


def state_word(state: str) -> str:
    """A row's state as a word of the reader's language (``paused`` for undeliverable)."""
    words: dict[str, str] = {
        ReminderState.DONE: _("done"),
        ReminderState.CANCELLED: _("cancelled"),
        ReminderState.MISSED: _("missed"),
        ReminderState.UNDELIVERABLE: _("paused"),
    }
    return words.get(state, state)


def cancel_markup(row: Reminder) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("Cancel"), callback_data=f"rm:cancel:{row.id}")]]
    )


def snooze_markup(row: Reminder) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("+5 min"), callback_data=f"rm:snooze:{row.id}:5m"),
                InlineKeyboardButton(_("+1 h"), callback_data=f"rm:snooze:{row.id}:1h"),
                InlineKeyboardButton(_("tomorrow"), callback_data=f"rm:snooze:{row.id}:tomorrow"),
            ]
        ]
    )


def countdown_text(row: Reminder, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    total = format_duration(timedelta(seconds=row.duration or 0))
    left = format_duration(max(row.due - now, timedelta(0)))
    return _("⏳ {total} — rings at {when} ({zone})\n{ref}{label} · {left} left").format(
        total=total,
        when=when_short(row.due, row.tz, now),
        zone=row.tz,
        ref=row.ref,
        label=_label(row),
        left=left,
    )


def ring_title(row: Reminder) -> str:
    """What an unlabelled ring says: ``t3 · 5 min timer``, so two rings are told apart."""
    if row.kind == ReminderKind.TIMER:
        return _("{ref} · {duration} timer").format(
            ref=row.ref, duration=format_duration(timedelta(seconds=row.duration or 0))
        )
    return _("{ref} · reminder").format(ref=row.ref)


def absolute_when(due: datetime, zone_name: str) -> str:
    """``Sat 2026-11-28 09:00 (Europe/Berlin)``: weekday, date, time and zone, never relative, so
    that a misreading shows at once."""
    zone = ZoneInfo(zone_name)
    # TRANSLATORS: a date and time, then the time zone it is in (full-width brackets in Chinese).
    return _("{when} ({zone})").format(when=dates.absolute(due, zone), zone=zone_label(zone))


def reminder_text(row: Reminder) -> str:
    """The confirmation: ``⏰ t5 “standup” — Sat 2026-11-28 09:00 (Europe/Berlin)``; a repeat
    adds how often in words (``every monday at 10:00``) and says the date is the first ring."""
    when = absolute_when(row.due, row.tz)
    if row.recurrence:
        when = _("{repeat}; first {when}").format(repeat=_repeat(row), when=when)
    return f"⏰ {row.ref}{_label(row)} — {when}"


def _mention(text: str, row: Reminder) -> tuple[str, list[MessageEntity]]:
    """``text`` followed by the creator's name, as a mention where Telegram allows one."""
    name = row.user_name or _("you")
    if name.startswith("@") or row.user_id <= 0:  # a chat (anonymous admin) cannot be mentioned
        return f"{text}{name} ", []
    offset = len(text.encode("utf-16-le")) // 2
    entity = MessageEntity(
        MessageEntity.TEXT_MENTION,
        offset,
        len(name.encode("utf-16-le")) // 2,
        user=User(row.user_id, name, False),
    )
    return f"{text}{name} ", [entity]


def ring_text(row: Reminder, late: timedelta) -> tuple[str, list[MessageEntity]]:
    """The ring: its label (or title), the creator mentioned in a group, how late, the repeat."""
    text = "🔔 " if row.kind == ReminderKind.TIMER else "⏰ "
    entities: list[MessageEntity] = []
    if row.in_group:
        text, entities = _mention(text, row)
    text += row.label or ring_title(row)
    if is_late(late):
        text += "\n" + _("(late by {duration} — I was offline or busy)").format(
            duration=format_duration(late)
        )
    if row.recurrence:
        text += f"\n{_repeat(row)}"
    return text, entities


def rang_text(row: Reminder, at: datetime) -> str:
    """A timer's countdown once it rang."""
    return _("🔔 {ref}{label} rang at {when} ({zone})").format(
        ref=row.ref, label=_label(row), when=when_short(at, row.tz), zone=row.tz
    )


def cancelled_status(row: Reminder) -> str:
    """The confirmation of a cancelled row."""
    return _("✖️ {ref}{label} cancelled.").format(ref=row.ref, label=_label(row))


def cancelled_reply(row: Reminder) -> str:
    return _("Cancelled {ref}{label}.").format(ref=row.ref, label=_label(row))


def snoozed_note(row: Reminder) -> str:
    return _("💤 Snoozed as {ref} until {when} ({zone})").format(
        ref=row.ref, when=when_short(row.due, row.tz), zone=row.tz
    )


def missed_note(rows: Sequence[Reminder]) -> str:
    """One message per chat (or topic) listing the rings missed while the bot was offline."""
    lines = [_("📭 Missed while I was offline:")]
    for row in rows[:MISSED_LIMIT]:
        lines.append(
            _("• {ref}{label} — was due {when} ({zone})").format(
                ref=row.ref, label=_label(row), when=dates.absolute(row.due, row.tz), zone=row.tz
            )
        )
    if len(rows) > MISSED_LIMIT:
        lines.append(_("…and {count} more.").format(count=len(rows) - MISSED_LIMIT))
    return "\n".join(lines)


def pending_list(rows: Sequence[Reminder], group: bool, topic: int | None) -> str:
    """``/timers``: pending rows by due time (``rows`` non-empty, this topic's first), with who
    set each one in a group; the rest of a forum group under a heading."""
    lines = [_("Pending in this chat:") if group else _("Your pending timers and reminders:")]
    if topic is not None:  # this topic's first, then the rest of the group under a heading
        lines = [
            _("Pending in this topic:")
            if rows[0].thread_id == topic
            else _("Nothing pending in this topic.")
        ]
    for index, row in enumerate(rows[:LIST_LIMIT]):
        if (
            topic is not None
            and row.thread_id != topic
            and (index == 0 or rows[index - 1].thread_id == topic)
        ):
            lines.append(_("Elsewhere in this chat:"))
        how = f", {_repeat(row)}" if row.recurrence else ""
        who = f" — {row.user_name}" if group else ""
        lines.append(
            f"{row.ref} {kind_word(row.kind)}{_label(row)} — "
            f"{when_short(row.due, row.tz)} ({row.tz}){how}{who}"
        )
    if len(rows) > LIST_LIMIT:
        lines.append(_("…and {count} more.").format(count=len(rows) - LIST_LIMIT))
    lines.append(_("Cancel one with /cancel ID, e.g. /cancel {ref}").format(ref=rows[0].ref))
    return "\n".join(lines)
