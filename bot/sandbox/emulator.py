"""A Bot API emulator: a real HTTP server on loopback that speaks the part of the Bot API Errand uses.

Why it exists: end-to-end tests and the offline sandbox must run the real ``errandbot run`` process,
unchanged, with no token and no network. The bot is pointed at this server with
``TELEGRAM_API_URL`` and cannot tell the difference for the methods it calls. The emulator keeps
chats, messages (with their edit history), callback answers and uploaded documents, and lets a
caller act as any user in any private chat or group (:meth:`BotApiEmulator.send_text`,
:meth:`BotApiEmulator.press_button`) and inject faults (:meth:`BotApiEmulator.add_fault`).

Responses follow Telegram's shapes: ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": …, "description": …, "parameters": {"retry_after": …}}``, including
400 "message is not modified" and 429 with ``retry_after``.

Groups change as on Telegram (:meth:`BotApiEmulator.make_forum` and ``thread_id=`` for topics,
:meth:`BotApiEmulator.upgrade_group` for a group becoming a supergroup with a new id, then 400 with
``migrate_to_chat_id`` for the old id; :meth:`BotApiEmulator.remove_bot` /
:meth:`BotApiEmulator.add_bot` for ``my_chat_member`` updates and 403 answers while away).

Everything is guarded by one condition variable; readers in tests use :meth:`wait_for` with a
deadline rather than sleeping.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bot.sandbox.uploads import UploadedFile, read_multipart

DEFAULT_TOKEN = "123456789:SANDBOX-token-not-a-real-one_ABCDEFGH"
# The placeholder senders Telegram puts in ``from`` for messages written as a chat.
ANONYMOUS_ADMIN: dict[str, Any] = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_POSTER: dict[str, Any] = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_JSON_FIELDS = {
    "reply_markup",
    "reply_parameters",
    "entities",
    "caption_entities",
    "commands",
    "allowed_updates",
    "link_preview_options",
    "scope",
}


_SERVER_ERRORS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class ApiError(Exception):
    """An error answer: HTTP status, Telegram ``error_code`` and description."""

    def __init__(self, code: int, description: str, retry_after: int | None = None,
                 migrate_to_chat_id: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


@dataclass
class Message:
    """One message in a chat, from a user or from the bot, with every version of its text."""

    chat_id: int
    message_id: int
    from_id: int
    text: str | None
    date: float
    reply_to: int | None = None
    reply_markup: dict | None = None
    document: dict | None = None
    caption: str | None = None
    #: A sendVideo/sendAudio upload: ``kind`` ("video"/"audio"), the parameters sent, the bytes.
    media: dict | None = None
    history: list[tuple[float, str | None, dict | None]] = field(default_factory=list)
    deleted: bool = False
    raw: dict = field(default_factory=dict)
    thread_id: int | None = None  # the forum topic (message_thread_id), None for General

    @property
    def buttons(self) -> list[dict]:
        """All inline buttons, row after row."""
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", []) for b in row]

    @property
    def edit_times(self) -> list[float]:
        """When each version appeared: the send, then every edit."""
        return [t for t, _, _ in self.history]


@dataclass
class Fault:
    """An injected error for the next ``times`` calls of ``method``."""

    method: str
    code: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class Call:
    """One Bot API call the bot made, as received."""

    at: float
    method: str
    params: dict[str, Any]
    status: int = 200


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities(text: str) -> list[dict]:
    """Entities Telegram would attach: a leading bot command and URLs, with UTF-16 offsets."""
    found = []
    command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        found.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command.group(0))})
    for match in _URL.finditer(text):
        found.append(
            {
                "type": "url",
                "offset": _utf16_len(text[: match.start()]),
                "length": _utf16_len(match.group(0)),
            }
        )
    return found


class BotApiEmulator:
    """The emulator: start it, point the bot at :attr:`url`, then talk as users.

    ``token`` is the only token accepted (others get 401 Unauthorized, as on Telegram).
    ``upload_limit`` is the largest document accepted by multipart upload (Telegram: 50 MB; a
    local server: 2000 MB); raise it (the argument or the attribute) to test big deliveries.
    Uploads are streamed to temporary files and hashed, never held in memory.
    ``upload_rate`` (bytes/s, None: as fast as it comes) reads uploads like a slow uplink.
    ``local_mode`` makes it behave like a ``telegram-bot-api --local`` server: documents may be
    given as ``file:///path`` and are read from that path (the message's ``document`` then says
    ``"sent_by": "path"``; an upload says ``"upload"``). Without it, ``file://`` is refused, as
    api.telegram.org does.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "errand_test_bot",
        upload_limit: int = 50 * 1000 * 1000,
        local_mode: bool = False,
        first_message_id: int = 1,
        first_update_id: int = 1,
    ) -> None:
        """``first_message_id`` and ``first_update_id`` let a restarted emulator go on numbering
        where an earlier one stopped (the sandbox's ``--keep``): a bot that kept its state must
        not see new messages and updates under ids it already knows."""
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
        self._listeners: list[Callable[[str, Message], None]] = []
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._webhook_thread: threading.Thread | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """The value for ``TELEGRAM_API_URL``."""
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> BotApiEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="bot-api-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)

    def __enter__(self) -> BotApiEmulator:
        return self.start()

    def spool(self) -> Path:
        """The folder of uploaded files (made on first use, removed by :meth:`stop`)."""
        with self._cond:
            if self._spool is None:
                self._spool = Path(tempfile.mkdtemp(prefix="emulator-uploads-"))
            return self._spool

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ acting as users
    def user(self, user_id: int, first_name: str | None = None, username: str | None = None) -> dict:
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

    def set_user_language(self, user_id: int, language_code: str | None) -> None:
        """Make ``user_id`` a Telegram user whose app is in ``language_code`` (``zh-hans``, ``en``…);
        None removes it, as for a client that sends none."""
        with self._cond:
            user = self.user(user_id)
            if language_code:
                user["language_code"] = language_code
            else:
                user.pop("language_code", None)

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

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Make ``user_id`` a ``creator``, ``administrator``, ``member``… of ``chat_id``."""
        with self._cond:
            self._members[(chat_id, user_id)] = status

    def send_text(self, chat_id: int, user_id: int, text: str, *, reply_to: int | None = None,
                  as_chat: int | None = None, thread_id: int | None = None) -> Message:
        """``user_id`` writes ``text`` in ``chat_id`` (positive: private, negative: a group).

        ``as_chat`` sends it the way Telegram shows a message written as a chat: an anonymous
        admin writing as the group itself (``as_chat == chat_id``) or a linked channel's post —
        ``from`` is Telegram's shared placeholder bot, the real sender is in ``sender_chat``.
        ``thread_id`` writes in that topic of a forum (:meth:`make_forum`).
        """
        with self._cond:
            sender = self.user(user_id) if as_chat is None else (
                ANONYMOUS_ADMIN if as_chat == chat_id else CHANNEL_POSTER)
            if thread_id is not None and thread_id not in self._forums.get(chat_id, ()):
                raise ValueError(f"chat {chat_id} has no topic {thread_id}")
            message = self._new_message(chat_id, user_id, text, reply_to=reply_to, thread_id=thread_id)
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
        raw.pop("entities", None)
        entities = _entities(raw.get("text") or "")
        if entities:
            raw["entities"] = entities
        message.raw = raw
        self._push_update({kind: raw})
        return message

    def press_button(self, message: Message, user_id: int, data: str | None = None, *, index: int = 0) -> str:
        """``user_id`` presses a button of a bot message (by ``data`` or position); returns the query id."""
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
        """Answer the next ``times`` calls of ``method`` with an error (default: 429, retry after 1 s)."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}" if code == 429
                else _SERVER_ERRORS.get(code, "Internal Server Error")
            )
        with self._cond:
            self._faults.append(Fault(method, code, description, retry_after if code == 429 else None, times))

    # ------------------------------------------------------------------ groups that change
    def make_forum(self, chat_id: int, topics: int = 1) -> list[int]:
        """Make ``chat_id`` a supergroup with topics; create ``topics`` topics, return their ids.

        As on Telegram, a topic's ``message_thread_id`` is the id of the service message that
        created it; messages without one are in "General".
        """
        with self._cond:
            threads = self._forums.setdefault(chat_id, set())
            created = []
            for n in range(topics):
                service = self._new_message(chat_id, ANONYMOUS_ADMIN["id"], None)
                service.raw = {"forum_topic_created": {"name": f"Topic {n + 1}", "icon_color": 7322096}}
                threads.add(service.message_id)
                created.append(service.message_id)
            return created

    def make_basic_group(self, chat_id: int, title: str | None = None) -> None:
        """Make ``chat_id`` a basic group (type ``group``), the kind Telegram upgrades."""
        with self._cond:
            self._basic_groups.add(chat_id)
            if title:
                self._chat_titles[chat_id] = title

    def upgrade_group(self, old_chat_id: int, new_chat_id: int, *, user_id: int = 1,
                      announce: bool = True) -> None:
        """The group ``old_chat_id`` becomes the supergroup ``new_chat_id``.

        From now on any call naming the old id answers 400 with ``migrate_to_chat_id`` (PTB's
        ``ChatMigrated``). With ``announce`` the bot also gets both service messages, the old
        chat's ``migrate_to_chat_id`` and the new chat's ``migrate_from_chat_id``; without, the
        error is the only way it learns (a bot that was offline, or a missed update).
        """
        with self._cond:
            self._basic_groups.discard(old_chat_id)
            title = self._chat_titles.get(old_chat_id)
            if title:
                self._chat_titles[new_chat_id] = title
            if announce:
                # the old chat's message, shown as the group it was, before the id is retired
                self._basic_groups.add(old_chat_id)
                note = self._new_message(old_chat_id, user_id, None)
                raw = self._message_dict(note)
                self._basic_groups.discard(old_chat_id)
                note.raw = {**raw, "migrate_to_chat_id": new_chat_id}
                self._push_update({"message": note.raw})
                note = self._new_message(new_chat_id, ANONYMOUS_ADMIN["id"], None)
                note.raw = {**self._message_dict(note), "from": ANONYMOUS_ADMIN,
                            "sender_chat": self._chat(new_chat_id), "migrate_from_chat_id": old_chat_id}
                self._push_update({"message": note.raw})
            self._migrated[old_chat_id] = new_chat_id

    def remove_bot(self, chat_id: int, user_id: int, *, announce: bool = True) -> None:
        """``user_id`` removes the bot from group ``chat_id``, or (``chat_id == user_id``) blocks it.

        Every call for that chat then answers 403 Forbidden. With ``announce`` the bot gets the
        ``my_chat_member`` update Telegram sends; without, the 403 is the only sign.
        """
        private = chat_id > 0
        with self._cond:
            self._bot_away[chat_id] = ("Forbidden: bot was blocked by the user" if private
                                       else "Forbidden: bot was kicked from the group chat")
            if announce:
                self._member_update(chat_id, user_id, "kicked")
            else:
                self._bot_status[chat_id] = "kicked"  # the update was missed; the state is real

    def add_bot(self, chat_id: int, user_id: int) -> None:
        """``user_id`` adds the bot back to group ``chat_id`` or (private) unblocks it."""
        with self._cond:
            self._bot_away.pop(chat_id, None)
            self._member_update(chat_id, user_id, "member")

    def _member_update(self, chat_id: int, user_id: int, status: str) -> None:
        old = self._bot_status.get(chat_id, "member")
        self._bot_status[chat_id] = status

        def member(state: str) -> dict:
            out: dict[str, Any] = {"status": state, "user": self._bot_user()}
            if state == "kicked":
                out["until_date"] = 0
            return out

        self._push_update({"my_chat_member": {
            "chat": self._chat(chat_id), "from": self.user(user_id), "date": int(time.time()),
            "old_chat_member": member(old), "new_chat_member": member(status)}})

    # ------------------------------------------------------------------ observing
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
            return max([self.first_message_id, *self._next_message_id.values()]), self._next_update_id

    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot (a ``getUpdates`` offset past them); after a
        ``kill -9`` these are delivered again, as Telegram does."""
        with self._cond:
            return len(self._updates)

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        """Wait until ``predicate()`` is truthy and return it; raise ``TimeoutError`` at the deadline."""
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

    def wait_reply(self, chat_id: int, after: Message | None = None, *, timeout: float = 10.0,
                   contains: str | None = None) -> Message:
        """Wait for a new bot message in ``chat_id`` (after ``after``), optionally containing text."""
        floor = after.message_id if after else 0

        def find() -> Message | None:
            for m in self.bot_messages(chat_id):
                text = m.text or m.caption or ""
                if m.message_id > floor and (contains is None or contains in text):
                    return m
            return None

        return self.wait_for(find, timeout, f"a bot message in {chat_id}" + (f" with {contains!r}" if contains else ""))

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
            "from": self._bot_user() if message.from_id == self.bot_id else self.user(message.from_id),
        }
        if message.text is not None:
            out["text"] = message.text
        if message.reply_markup:
            out["reply_markup"] = message.reply_markup
        if message.document:
            out["document"] = {
                k: message.document[k] for k in ("file_id", "file_unique_id", "file_name", "file_size")
            }
        if message.media:
            out[message.media["kind"]] = {k: v for k, v in message.media.items()
                                          if k not in ("kind", "data", "thumbnail_data", "params")}
        if message.caption is not None:
            out["caption"] = message.caption
        if message.thread_id is not None:
            out["message_thread_id"] = message.thread_id
            out["is_topic_message"] = True
        if message.reply_to and message.reply_to in self._messages.get(message.chat_id, {}):
            original = self._messages[message.chat_id][message.reply_to]
            out["reply_to_message"] = original.raw or self._message_dict(
                Message(original.chat_id, original.message_id, original.from_id, original.text, original.date)
            )
        return out

    def _bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Errand", "username": self.bot_username}

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

    # ------------------------------------------------------------------ webhook delivery
    def _ensure_webhook_thread(self) -> None:
        if self._webhook_thread is None or not self._webhook_thread.is_alive():
            self._webhook_thread = threading.Thread(target=self._deliver_loop, name="emulator-webhook", daemon=True)
            self._webhook_thread.start()

    def post_webhook(self, update: dict, secret: str | None) -> int:
        """POST one update to the registered webhook with ``secret`` as the secret header; return the status."""
        url = self.webhook["url"]
        request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        if secret is not None:
            request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def _deliver_loop(self) -> None:
        while True:
            with self._cond:
                while not self._updates and not self._stopping and self.webhook.get("url"):
                    self._cond.wait(0.5)
                if self._stopping or not self.webhook.get("url"):
                    return
                update = self._updates[0]
                secret = self.webhook.get("secret_token")
            status = self.post_webhook(update, secret)
            with self._cond:
                self.webhook_deliveries.append((update["update_id"], status))
                if 200 <= status < 300:
                    self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                    self._cond.notify_all()
            if not 200 <= status < 300:
                time.sleep(0.5)  # Telegram retries failed deliveries later, too.

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

    def _api_getme(self, p: dict, f: dict) -> dict:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _api_logout(self, p: dict, f: dict) -> bool:
        return True

    def _api_close(self, p: dict, f: dict) -> bool:
        return True

    def _api_deletewebhook(self, p: dict, f: dict) -> bool:
        self.webhook = {}
        if _bool(p.get("drop_pending_updates")):
            self._updates.clear()
        return True

    def _api_setwebhook(self, p: dict, f: dict) -> bool:
        url = str(p.get("url", ""))
        if not url:
            self.webhook = {}
            return True
        self.webhook = {"url": url, "secret_token": p.get("secret_token"),
                        "allowed_updates": p.get("allowed_updates")}
        if _bool(p.get("drop_pending_updates")):
            self._updates.clear()
        self._ensure_webhook_thread()
        return True

    def _api_getwebhookinfo(self, p: dict, f: dict) -> dict:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    def _api_setmycommands(self, p: dict, f: dict) -> bool:
        language = p.get("language_code") or ""
        self.command_menus[language] = list(p.get("commands") or [])
        if not language:
            self.commands = self.command_menus[language]
        return True

    def _api_getmycommands(self, p: dict, f: dict) -> list:
        return self.commands

    def _api_deletemycommands(self, p: dict, f: dict) -> bool:
        self.commands = []
        return True

    def _api_getupdates(self, p: dict, f: dict) -> list:
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), 50.0)
        limit = int(p.get("limit") or 100)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(min(left, 0.5))
        return self._updates[:limit]

    def _chat_id(self, p: dict) -> int:
        try:
            chat_id = int(p["chat_id"])
        except (KeyError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self._migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           migrate_to_chat_id=self._migrated[chat_id])
        if chat_id in self._bot_away:
            raise ApiError(403, self._bot_away[chat_id])
        return chat_id

    def _thread_id(self, chat_id: int, p: dict) -> int | None:
        """``message_thread_id`` of a send: a topic of this forum (General when absent)."""
        raw = p.get("message_thread_id")
        if raw in (None, ""):
            return None
        thread_id = int(raw)
        if chat_id in self._forums and thread_id not in self._forums[chat_id]:
            raise ApiError(400, "Bad Request: message thread not found")
        return thread_id if chat_id in self._forums else None

    def _reply_to(self, p: dict) -> int | None:
        rp = p.get("reply_parameters")
        if isinstance(rp, dict) and rp.get("message_id"):
            return int(rp["message_id"])
        if p.get("reply_to_message_id"):
            return int(p["reply_to_message_id"])
        return None

    def _bot_message(self, chat_id: int, text: str | None, p: dict, **extra: Any) -> Message:
        message = self._new_message(chat_id, self.bot_id, text, reply_to=self._reply_to(p),
                                    reply_markup=p.get("reply_markup") or None,
                                    thread_id=self._thread_id(chat_id, p), **extra)
        self._notify("send", message)
        return message

    def _api_sendmessage(self, p: dict, f: dict) -> dict:
        chat_id = self._chat_id(p)
        text = str(p.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        for entity in p.get("entities") or []:  # only a user can be mentioned by id, not a chat
            if entity.get("type") == "text_mention" and int((entity.get("user") or {}).get("id", 0)) <= 0:
                raise ApiError(400, "Bad Request: USER_ID_INVALID")
        return self._message_dict(self._bot_message(chat_id, text, p))

    def _find(self, p: dict) -> Message:
        chat_id = self._chat_id(p)
        try:
            message = self._messages[chat_id][int(p["message_id"])]
        except (KeyError, ValueError):
            raise ApiError(400, "Bad Request: message to edit not found") from None
        if message.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _edit(self, message: Message, text: str | None, markup: dict | None) -> dict:
        if text == message.text and (markup or None) == (message.reply_markup or None):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content "
                                "and reply markup are exactly the same as a current content and reply "
                                "markup of the message")
        message.text = text
        message.reply_markup = markup or None
        message.history.append((time.monotonic(), text, message.reply_markup))
        self._notify("edit", message)
        return self._message_dict(message)

    def _api_editmessagetext(self, p: dict, f: dict) -> dict:
        message = self._find(p)
        text = str(p.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return self._edit(message, text, p.get("reply_markup"))

    def _api_editmessagereplymarkup(self, p: dict, f: dict) -> dict:
        message = self._find(p)
        return self._edit(message, message.text, p.get("reply_markup"))

    def _api_deletemessage(self, p: dict, f: dict) -> bool:
        message = self._find(p)
        message.deleted = True
        self._notify("delete", message)
        return True

    def _api_sendchataction(self, p: dict, f: dict) -> bool:
        self._thread_id(self._chat_id(p), p)
        return True

    def _api_answercallbackquery(self, p: dict, f: dict) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        self._callback_answers[query_id] = {"text": p.get("text"), "show_alert": _bool(p.get("show_alert"))}
        return True

    def _api_getchatmember(self, p: dict, f: dict) -> dict:
        chat_id = self._chat_id(p)
        user_id = int(p.get("user_id", 0))
        status = self._members.get((chat_id, user_id), "member")
        out: dict[str, Any] = {"status": status, "user": self.user(user_id)}
        if status == "administrator":
            out.update(can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                       can_delete_messages=True, can_manage_video_chats=True, can_restrict_members=True,
                       can_promote_members=False, can_change_info=True, can_invite_users=True,
                       can_post_stories=False, can_edit_stories=False, can_delete_stories=False)
        if status == "creator":
            out.update(is_anonymous=False)
        if status == "restricted":
            status = "member"
            out["status"] = status
        return out

    def _api_getchat(self, p: dict, f: dict) -> dict:
        chat = self._chat(self._chat_id(p))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
            "premium_subscription": False}}

    def _api_senddocument(self, p: dict, f: dict) -> dict:
        chat_id = self._chat_id(p)
        extra: dict[str, Any] = {}
        if "document" in f:
            upload: UploadedFile = f["document"]
            if upload.size > self.upload_limit:
                raise ApiError(413, "Request Entity Too Large")
            digest, size, name = upload.sha256, upload.size, upload.filename
            extra = {"sent_by": "upload", "stored_at": str(upload.path)}
        else:
            ref = str(p.get("document", ""))
            if not ref.startswith("file://") or not self.local_mode:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            path = Path(urllib.parse.unquote(urllib.parse.urlsplit(ref).path))
            if not path.is_file():
                raise ApiError(400, "Bad Request: file not found")
            digest, size, name = _hash_file(path), path.stat().st_size, path.name
            extra = {"sent_by": "path", "path": str(path)}
        document = {"file_id": f"doc-{digest[:16]}", "file_unique_id": digest[:12], "file_name": name,
                    "file_size": size, "sha256": digest, **extra}
        caption = p.get("caption")
        message = self._bot_message(chat_id, None, p, document=document, caption=caption)
        return self._message_dict(message)

    def _api_sendvideo(self, p: dict, f: dict) -> dict:
        return self._send_media("video", p, f)

    def _api_sendaudio(self, p: dict, f: dict) -> dict:
        return self._send_media("audio", p, f)

    def _send_media(self, kind: str, p: dict, f: dict) -> dict:
        """sendVideo / sendAudio: keeps the bytes and the parameters, for tests to check."""
        chat_id = self._chat_id(p)
        if kind in f:
            upload: UploadedFile = f[kind]
            if upload.size > self.upload_limit or upload.path is None:
                raise ApiError(413, "Request Entity Too Large")
            name, data = upload.filename, upload.path.read_bytes()
        else:  # by path, as a local Bot API server takes it (TELEGRAM_LOCAL_MODE)
            ref = str(p.get(kind, ""))
            path = Path(urllib.parse.unquote(urllib.parse.urlsplit(ref).path)) if ref.startswith("file://") else None
            if path is None or not self.local_mode or not path.is_file():
                raise ApiError(400, f"Bad Request: there is no {kind} in the request")
            name, data = path.name, path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        media = {"kind": kind, "file_id": f"{kind}-{digest[:16]}", "file_unique_id": digest[:12],
                 "file_name": name, "file_size": len(data), "data": data,
                 "thumbnail_data": _attached(p.get("thumbnail"), f) or _attached("attach://thumbnail", f),
                 "params": {k: v for k, v in p.items() if k not in ("chat_id", "caption")}}
        for key in ("duration", "width", "height"):
            if key in p:
                media[key] = int(p[key])
        for key in ("title", "performer"):
            if key in p:
                media[key] = str(p[key])
        message = self._bot_message(chat_id, None, p, media=media, caption=p.get("caption"))
        return self._message_dict(message)

    # ------------------------------------------------------------------ HTTP plumbing
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def _serve(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", parts.path)
                length = int(self.headers.get("Content-Length") or 0)
                content_type = self.headers.get("Content-Type", "")
                streamed: tuple[dict, dict] | None = None
                if _is_multipart(content_type):  # read as it arrives: files go to disk, hashed
                    try:
                        streamed = read_multipart(self.rfile, length, content_type,
                                                  limit=emulator.upload_limit, spool=emulator.spool(),
                                                  rate=emulator.upload_rate)
                    except ConnectionError:
                        self.close_connection = True
                        return  # the client gave up mid-body (a cancelled upload): nobody to answer
                    except ValueError as exc:
                        self.close_connection = True
                        return self._reply(400, {"ok": False, "error_code": 400,
                                                 "description": f"Bad Request: {exc}"})
                body = self.rfile.read(length) if length and streamed is None else b""
                if not match:
                    return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                token, method = match.groups()
                if token != emulator.token:
                    return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                try:
                    if streamed is not None:
                        params = {k: _decode(k, v) for k, v in
                                  {**dict(urllib.parse.parse_qsl(parts.query)), **streamed[0]}.items()}
                        files = streamed[1]
                    else:
                        params, files = _parse_params(content_type, body, parts.query)
                except ValueError as exc:
                    return self._reply(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"})
                call = Call(time.monotonic(), method, params)
                with emulator._cond:
                    emulator.calls.append(call)
                try:
                    result = emulator.handle(method, params, files)
                except ApiError as exc:
                    call.status = exc.code
                    answer: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
                    if exc.retry_after is not None:
                        answer["parameters"] = {"retry_after": exc.retry_after}
                    if exc.migrate_to_chat_id is not None:
                        answer["parameters"] = {"migrate_to_chat_id": exc.migrate_to_chat_id}
                    return self._reply(exc.code, answer)
                self._reply(200, {"ok": True, "result": result})

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def _is_multipart(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "multipart/form-data"


def _bool(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _attached(value: Any, files: dict[str, UploadedFile]) -> bytes | None:
    """The bytes of a multipart part named by an ``attach://name`` parameter, if any."""
    if isinstance(value, str) and value.startswith("attach://"):
        part = files.get(value[len("attach://"):])
        return part.path.read_bytes() if part is not None and part.path is not None else None
    return None


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _decode(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"can't parse {name} JSON object") from None
    return value


def _parse_params(content_type: str, body: bytes, query: str) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Parameters from a query string or an urlencoded/JSON body, as the Bot API accepts
    (multipart bodies are streamed by :func:`bot.sandbox.uploads.read_multipart` instead)."""
    params: dict[str, Any] = {k: v for k, v in urllib.parse.parse_qsl(query)}
    files: dict[str, UploadedFile] = {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body:
        params.update(json.loads(body))
    elif kind == "application/x-www-form-urlencoded":
        params.update(urllib.parse.parse_qsl(body.decode("utf-8")))
    return {k: _decode(k, v) for k, v in params.items()}, files
