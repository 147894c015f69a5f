"""The emulator's state: chats, users, messages and queued updates behind one condition variable.

Every area of the emulator (acting as users, groups changing, each group of API methods) works
on this one state under ``_cond``, an ``RLock``-backed condition: a test's ``wait_for`` wakes on
any change. Updates are queued here and, while a webhook is set, posted to it (:mod:`.webhook`, as
Telegram does, retrying a failed delivery later). :meth:`EmulatorState.handle` runs one method by
name, as ``_api_<method>`` of whichever area defines it."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.sandbox.botapi.objects import ApiError, Call, Delay, Fault, Message
from bot.sandbox.uploads import UploadedFile


class EmulatorState:
    """The data every area of the emulator shares, and the queue of updates for the bot."""

    def __init__(
        self,
        token: str,
        *,
        bot_username: str,
        upload_limit: int,
        local_mode: bool,
        first_message_id: int,
        first_update_id: int,
    ) -> None:
        """The arguments are :class:`~bot.sandbox.emulator.BotApiEmulator`'s, which gives the
        defaults."""
        self.token = token
        self.first_message_id = first_message_id
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.upload_limit = upload_limit
        self.local_mode = local_mode
        self.upload_rate: float | None = None
        self._spool: Path | None = None  # temporary files of uploads, made on first use
        self._cond = threading.Condition(threading.RLock())
        self._messages: dict[int, dict[int, Message]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[dict] = []
        self._next_update_id = first_update_id
        self._faults: list[Fault] = []
        self._delays: list[Delay] = []
        self._members: dict[tuple[int, int], str] = {}
        self._users: dict[int, dict] = {}
        self._chat_titles: dict[int, str] = {}
        self._forums: dict[int, set[int]] = {}  # forum chat id -> its topics' thread ids
        self._basic_groups: set[int] = set()  # "group" chats (not yet supergroups)
        self._migrated: dict[int, int] = {}  # upgraded group id -> its supergroup id
        self._bot_away: dict[int, str] = {}  # chat id -> the 403 description while removed/blocked
        self._bot_status: dict[int, str] = {}  # the bot's own member status per chat
        self._callback_answers: dict[str, dict] = {}
        self._next_callback = 1
        self.calls: list[Call] = []
        self.commands: list[dict] = []
        self.command_menus: dict[str, list[dict]] = {}  # language_code ("" for the default) -> menu
        self.webhook: dict[str, Any] = {}
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status)
        self._polls = 0  # getUpdates calls so far: a newer one ends the one waiting
        self._in_flight: set[int] = set()  # update ids being POSTed to the webhook
        self._failures: dict[int, Any] = {}  # update id -> its failed deliveries (.webhook)
        self._webhook_error: tuple[int, str] | None = None  # (unix time, Telegram's words)
        self._listeners: list[Callable[[str, Message], None]] = []
        self._webhook_thread: threading.Thread | None = None
        self._stopping = False

    def spool(self) -> Path:
        """The folder of uploaded files (made on first use, removed by :meth:`stop`)."""
        with self._cond:
            if self._spool is None:
                self._spool = Path(tempfile.mkdtemp(prefix="emulator-uploads-"))
            return self._spool

    def record_call(self, call: Call) -> None:
        """Keep ``call`` (a request as received) for :meth:`calls_of`."""
        with self._cond:
            self.calls.append(call)

    def user(
        self, user_id: int, first_name: str | None = None, username: str | None = None
    ) -> dict:
        """The ``User`` object for ``user_id`` (created on first use)."""
        with self._cond:
            if user_id not in self._users or first_name or username:
                self._users[user_id] = {
                    "id": user_id,
                    "is_bot": False,
                    "first_name": first_name or f"User{user_id}",
                    **({"username": username} if username else {"username": f"user{user_id}"}),
                }
            return self._users[user_id]

    def _chat(self, chat_id: int) -> dict:
        if chat_id > 0:
            user = self._users.get(chat_id) or self.user(chat_id)
            return {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        title = self._chat_titles.get(chat_id, f"Group {chat_id}")
        if chat_id in self._basic_groups:
            return {"id": chat_id, "type": "group", "title": title}
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        if chat_id in self._forums:
            chat["is_forum"] = True
        return chat

    def _bot_user(self) -> dict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Errand",
            "username": self.bot_username,
        }

    # ------------------------------------------------------------------ internals
    def _notify(self, kind: str, message: Message) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, message)
            except Exception:  # noqa: BLE001 - a broken listener must not break the API
                pass

    def _new_message(self, chat_id: int, from_id: int, text: str | None, **kw: Any) -> Message:
        number = self._next_message_id.get(chat_id, self.first_message_id)
        self._next_message_id[chat_id] = number + 1
        message = Message(chat_id, number, from_id, text, time.time(), **kw)
        message.history.append((time.monotonic(), text, kw.get("reply_markup")))
        self._messages.setdefault(chat_id, {})[number] = message
        return message

    def _message_dict(self, message: Message) -> dict:
        out: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(message.date),
            "chat": self._chat(message.chat_id),
            "from": self._bot_user()
            if message.from_id == self.bot_id
            else self.user(message.from_id),
        }
        if message.text is not None:
            out["text"] = message.text
        if message.reply_markup:
            out["reply_markup"] = message.reply_markup
        if message.document:
            out["document"] = {
                k: message.document[k]
                for k in ("file_id", "file_unique_id", "file_name", "file_size")
            }
        if message.media:
            out[message.media["kind"]] = {
                k: v
                for k, v in message.media.items()
                if k not in ("kind", "data", "thumbnail_data", "params")
            }
        if message.caption is not None:
            out["caption"] = message.caption
        if message.thread_id is not None:
            out["message_thread_id"] = message.thread_id
            out["is_topic_message"] = True
        if message.reply_to and message.reply_to in self._messages.get(message.chat_id, {}):
            original = self._messages[message.chat_id][message.reply_to]
            out["reply_to_message"] = original.raw or self._message_dict(
                Message(
                    original.chat_id,
                    original.message_id,
                    original.from_id,
                    original.text,
                    original.date,
                )
            )
        return out

    def _push_update(self, body: dict) -> None:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self._updates.append(update)
        self._cond.notify_all()
        if self.webhook.get("url"):
            self._ensure_webhook_thread()

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _ensure_webhook_thread(self) -> None:
        """Deliver queued updates to the webhook, if one is set (:mod:`.webhook` does it)."""

    def delay_of(self, method: str) -> float:
        """Seconds to wait before answering this call of ``method`` (``slow_down``)."""
        with self._cond:
            for delay in self._delays:
                if delay.method == method and delay.times > 0:
                    delay.times -= 1
                    return delay.seconds
            return 0.0

    # ------------------------------------------------------------------ the API
    def handle(self, method: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        """Run one Bot API method; return its ``result`` or raise :class:`ApiError`."""
        with self._cond:
            fault = self._take_fault(method)
            if fault:
                raise ApiError(fault.code, fault.description, fault.retry_after)
            handler = getattr(self, f"_api_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = handler(params, files)
            self._cond.notify_all()
            return result
