"""What a test reads from the emulator and waits for: messages, calls, answers to button presses.

Readers never sleep and hope: :meth:`Observing.wait_for` waits on the state's condition, which
every change notifies, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.sandbox.botapi.objects import Call, Message
from bot.sandbox.botapi.state import EmulatorState


class Observing(EmulatorState):
    """Reading the chats as the bot left them, and waiting for what it will do."""

    def subscribe(self, listener: Callable[[str, Message], None]) -> None:
        """Call ``listener(kind, message)`` for every bot ``send``, ``edit`` and ``delete``."""
        with self._cond:
            self._listeners.append(listener)

    def messages(self, chat_id: int) -> list[Message]:
        with self._cond:
            return list(self._messages.get(chat_id, {}).values())

    def bot_messages(self, chat_id: int) -> list[Message]:
        return [m for m in self.messages(chat_id) if m.from_id == self.bot_id]

    def get_message(self, chat_id: int, message_id: int) -> Message:
        with self._cond:
            return self._messages[chat_id][message_id]

    def callback_answer(self, query_id: str) -> dict | None:
        with self._cond:
            return self._callback_answers.get(query_id)

    def next_ids(self) -> tuple[int, int]:
        """(the next message id above every chat's, the next update id): where a successor
        emulator should start numbering."""
        with self._cond:
            return max(
                [self.first_message_id, *self._next_message_id.values()]
            ), self._next_update_id

    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot (a ``getUpdates`` offset past them); after a
        ``kill -9`` these are delivered again, as Telegram does."""
        with self._cond:
            return len(self._updates)

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        """Wait until ``predicate()`` is truthy and return it; raise ``TimeoutError`` at the
        deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
                self._cond.wait(min(left, 0.2))

    def wait_reply(
        self,
        chat_id: int,
        after: Message | None = None,
        *,
        timeout: float = 10.0,
        contains: str | None = None,
    ) -> Message:
        """Wait for a new bot message in ``chat_id`` (after ``after``), optionally containing
        text."""
        floor = after.message_id if after else 0

        def find() -> Message | None:
            for m in self.bot_messages(chat_id):
                text = m.text or m.caption or ""
                if m.message_id > floor and (contains is None or contains in text):
                    return m
            return None

        return self.wait_for(
            find,
            timeout,
            f"a bot message in {chat_id}" + (f" with {contains!r}" if contains else ""),
        )
