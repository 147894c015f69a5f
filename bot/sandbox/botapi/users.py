"""Acting as users: writing, editing, pressing buttons, holding a role in a chat; and faults to
inject."""

from __future__ import annotations

import time

from bot.sandbox.botapi.objects import (
    ANONYMOUS_ADMIN,
    CHANNEL_POSTER,
    SERVER_ERRORS,
    Delay,
    Fault,
    Message,
    entities_in,
)
from bot.sandbox.botapi.observing import Observing


class UserActions(Observing):
    """What a person does in a chat, as updates for the bot; and errors the API should answer."""

    def set_user_language(self, user_id: int, language_code: str | None) -> None:
        """Make ``user_id`` a Telegram user whose app is in ``language_code`` (``zh-hans``,
        ``en``…); None removes it, as for a client that sends none."""
        with self._cond:
            user = self.user(user_id)
            if language_code:
                user["language_code"] = language_code
            else:
                user.pop("language_code", None)

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Make ``user_id`` a ``creator``, ``administrator``, ``member``… of ``chat_id``."""
        with self._cond:
            self._members[(chat_id, user_id)] = status

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        as_chat: int | None = None,
        thread_id: int | None = None,
    ) -> Message:
        """``user_id`` writes ``text`` in ``chat_id`` (positive: private, negative: a group).

        ``as_chat`` sends it the way Telegram shows a message written as a chat: an anonymous
        admin writing as the group itself (``as_chat == chat_id``) or a linked channel's post —
        ``from`` is Telegram's shared placeholder bot, the real sender is in ``sender_chat``.
        ``thread_id`` writes in that topic of a forum (:meth:`make_forum`).
        """
        with self._cond:
            sender = (
                self.user(user_id)
                if as_chat is None
                else (ANONYMOUS_ADMIN if as_chat == chat_id else CHANNEL_POSTER)
            )
            if thread_id is not None and thread_id not in self._forums.get(chat_id, ()):
                raise ValueError(f"chat {chat_id} has no topic {thread_id}")
            message = self._new_message(
                chat_id, user_id, text, reply_to=reply_to, thread_id=thread_id
            )
            raw = self._message_dict(message)
            raw["from"] = sender
            if as_chat is not None:
                raw["sender_chat"] = self._chat(as_chat)
            return self._deliver_user_text(message, raw, "message")

    def edit_text(self, message: Message, text: str) -> Message:
        """The user edits one of their messages; the bot receives an ``edited_message`` update."""
        with self._cond:
            message.text = text
            message.history.append((time.monotonic(), text, None))
            raw = {**message.raw, "text": text, "edit_date": int(time.time())}
            return self._deliver_user_text(message, raw, "edited_message")

    def _deliver_user_text(self, message: Message, raw: dict, kind: str) -> Message:
        """Attach the entities Telegram would find in the text and queue the update."""
        self._push_update({kind: self._with_entities(message, raw)})
        return message

    @staticmethod
    def _with_entities(message: Message, raw: dict) -> dict:
        raw.pop("entities", None)
        entities = entities_in(raw.get("text") or "")
        if entities:
            raw["entities"] = entities
        message.raw = raw
        return raw

    def forge_update(self, chat_id: int, user_id: int, text: str) -> dict:
        """The update :meth:`send_text` would queue, with the next update id, but *not* queued:
        for a test that delivers it itself (to two receivers at once, or into a database as a
        bot that crashed after storing it left it). Later updates get higher ids, as on
        Telegram."""
        with self._cond:
            message = self._new_message(chat_id, user_id, text)
            raw = self._with_entities(message, self._message_dict(message))
            update = {"update_id": self._next_update_id, "message": raw}
            self._next_update_id += 1
            return update

    def press_button(
        self, message: Message, user_id: int, data: str | None = None, *, index: int = 0
    ) -> str:
        """``user_id`` presses a button of a bot message (by ``data`` or position); returns the
        query id."""
        with self._cond:
            buttons = self.get_message(message.chat_id, message.message_id).buttons
            if data is None:
                data = buttons[index]["callback_data"]
            query_id = str(self._next_callback)
            self._next_callback += 1
            current = self.get_message(message.chat_id, message.message_id)
            self._push_update(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": self.user(user_id),
                        "message": self._message_dict(current),
                        "chat_instance": str(message.chat_id),
                        "data": data,
                    }
                }
            )
            return query_id

    def add_fault(
        self,
        method: str,
        *,
        code: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error (default: 429, retry after 1
        s)."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if code == 429
                else SERVER_ERRORS.get(code, "Internal Server Error")
            )
        with self._cond:
            self._faults.append(
                Fault(method, code, description, retry_after if code == 429 else None, times)
            )

    def slow_down(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` only after ``seconds`` (a slow network
        or a busy Telegram): lets a test make one bot's reply late on purpose."""
        with self._cond:
            self._delays.append(Delay(method, seconds, times))
