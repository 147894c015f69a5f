"""The reminder feature's Telegram side of time: rings, countdown edits, missed-while-offline notes.

Two things live here because they are about Telegram, not about time:

- the **countdown**: a timer's confirmation is edited at a flood-safe pace (every 10 s in the last
  minute, every minute in the last hour, hourly before; never faster than every 3 s) by jobs on
  the process's one scheduler (:class:`bot.reminders.alarms.Alarms`);
- the **ring**: a *new* message (edits do not notify), replying to the command, mentioning the
  person in a group, with snooze buttons; if it is late, it says by how much. It goes first in the
  send queue and is retried until Telegram takes it (:data:`bot.telegram.send_queue.RING`); only
  a chat that cannot be written to makes it undeliverable.

Rings and the missed-rings note are sent from no update, in the language the row was set in.
The words are in :mod:`bot.telegram.reminder_status`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from telegram import InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import Application

from bot.i18n import use
from bot.reminders.alarms import Alarms
from bot.reminders.service import ReminderService, RingOutcome
from bot.reminders.store import Reminder, ReminderKind, ReminderState
from bot.telegram import reminder_status as status
from bot.telegram import send_queue
from bot.telegram.api_errors import classify
from bot.telegram.handlers.chats import chat_fault, chat_send

log = logging.getLogger(__name__)

MIN_EDIT_GAP = 3.0


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


class ReminderNotifier:
    """Sends rings and missed-ring notes, and edits timers' countdowns, for one bot.

    ``alarms`` runs the countdown ticks on the process's scheduler; :meth:`stop` cancels the
    edits in progress. ``rings``: this process runs the ring loop (``services.role.runs_work``).
    """

    def __init__(
        self, app: Application, service: ReminderService, alarms: Alarms, *, rings: bool = True
    ) -> None:
        self.app = app
        self.service = service
        self.alarms = alarms
        self.rings = rings  # this process runs work: it rings (a pure front does not)

    # --- ringing ---------------------------------------------------------------------------

    async def ring(self, row: Reminder, late: timedelta) -> RingOutcome:
        """Ring in the language the reminder was set in (this runs from no update)."""
        with use(row.lang):
            return await self._ring(row, late)

    async def _ring(self, row: Reminder, late: timedelta) -> RingOutcome:
        text, entities = status.ring_text(row, late)
        markup = status.snooze_markup(row)

        async def send(chat_id: int) -> Message:
            reply_to = (
                row.reply_to if chat_id == row.chat_id else None
            )  # an upgraded group: new ids
            return await self.app.bot.send_message(
                chat_id,
                text,
                entities=entities or None,
                reply_markup=markup,
                message_thread_id=row.thread_id,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to
                else None,
                rate_limit_args=send_queue.RING,
            )

        try:
            sent = await chat_send(self.app, row.chat_id, send)
        except TelegramError as exc:  # the RING policy retried all that can be retried…
            if classify(exc).retryable:  # …unless the bot is stopping: pending, rung next start
                raise
            log.warning(
                "ring %s to chat %s is undeliverable (%s): %s",
                row.ref,
                row.chat_id,
                classify(exc).value,
                exc,
            )
            return RingOutcome.UNDELIVERABLE
        if sent is None:  # the chat is gone: bot.chats paused its rows (they await Resume)
            return RingOutcome.UNDELIVERABLE
        if sent.chat_id != row.chat_id:
            return RingOutcome.DELIVERED  # upgraded: the old confirmation is not editable
        if row.kind == ReminderKind.TIMER and row.status_message_id:
            await self.edit_status(
                row.chat_id, row.status_message_id, status.rang_text(row, datetime.now(UTC))
            )
        return RingOutcome.DELIVERED

    async def edit_status(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Edit a confirmation; an edit that fails is logged, never raised (the next says more)."""
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
        """Plan the next countdown edit of a timer's confirmation (none too close to the ring)."""
        remaining = row.due_at - datetime.now(UTC).timestamp()
        step = next_edit_in(remaining)
        if step is None:
            return
        self.alarms.set(
            f"cd{row.id}",
            datetime.now(UTC) + timedelta(seconds=step),
            self.tick,
            row.id,
            misfire_grace_time=30,
        )

    async def tick(self, reminder_id: int) -> None:
        row = self.service.get(reminder_id)
        if row is None or row.state != ReminderState.PENDING or not row.status_message_id:
            return
        try:
            with use(row.lang):
                await self.edit_status(
                    row.chat_id,
                    row.status_message_id,
                    status.countdown_text(row),
                    status.cancel_markup(row),
                )
        except asyncio.CancelledError:  # stopping while the edit waited its turn: nothing lost
            return
        self.schedule_tick(row)

    # --- start and stop --------------------------------------------------------------------

    async def start(self, _app: Application) -> None:
        """Start ringing where this process runs work (missed rows are listed by
        :meth:`list_missed` as the ring loop finds them) and resume the countdowns."""
        self.service.start(ring=self.rings)
        for row in self.service.counting_down():  # countdowns resume after a restart
            self.schedule_tick(row)

    async def list_missed(self, rows: list[Reminder]) -> None:
        """One note per chat (and forum topic) listing the rows missed while nothing ran."""
        by_topic: dict[tuple[int, int | None], list[Reminder]] = {}
        for row in rows:
            by_topic.setdefault((row.chat_id, row.thread_id), []).append(row)
        for (chat_id, thread_id), listed in by_topic.items():
            with use(listed[0].lang):
                text = status.missed_note(listed)
            try:
                await chat_send(
                    self.app,
                    chat_id,
                    lambda chat, text=text, thread_id=thread_id: self.app.bot.send_message(
                        chat, text, message_thread_id=thread_id
                    ),
                )
            except TelegramError as exc:
                log.warning("could not list missed reminders in chat %s: %s", chat_id, exc)

    async def stop(self, _app: Application) -> None:
        """Cancel the countdown edits; stop ringing (rings in flight stay pending, released)."""
        self.alarms.stop()
        await self.service.stop()
