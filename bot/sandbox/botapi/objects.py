"""What the emulated Bot API exchanges: messages with their history, the calls the bot made,
injected faults and error answers, and the constants Telegram uses for senders and server errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOKEN = "123456789:SANDBOX-token-not-a-real-one_ABCDEFGH"
# The placeholder senders Telegram puts in ``from`` for messages written as a chat.
ANONYMOUS_ADMIN: dict[str, Any] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_POSTER: dict[str, Any] = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}
URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)

SERVER_ERRORS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class ApiError(Exception):
    """An error answer: HTTP status, Telegram ``error_code`` and description."""

    def __init__(
        self,
        code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
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
class Delay:
    """A slow answer: the next ``times`` calls of ``method`` wait ``seconds`` first."""

    method: str
    seconds: float
    times: int


@dataclass
class Call:
    """One Bot API call the bot made, as received."""

    at: float
    method: str
    params: dict[str, Any]
    status: int = 200


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entities_in(text: str) -> list[dict]:
    """Entities Telegram would attach: a leading bot command and URLs, with UTF-16 offsets."""
    found = []
    command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))})
    for match in URL.finditer(text):
        found.append(
            {
                "type": "url",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return found


def as_bool(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)
