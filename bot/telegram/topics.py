"""Forum topics: which topic a message belongs to, and listing a topic's own items first.

In a supergroup with topics, every message carries the topic's ``message_thread_id``; a message
sent without one lands in "General", where nobody who asked in topic 77 is looking. Reminders and
downloads store the topic of the command (``thread_id``) and send everything there. Outside
forums ``message_thread_id`` can also name a reply thread, which is not a place to post in, so
only a message Telegram marks ``is_topic_message`` has a topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from telegram import Message


class InTopic(Protocol):
    thread_id: int | None


Item = TypeVar("Item", bound=InTopic)


def topic_of(message: Message | None) -> int | None:
    """The forum topic ``message`` was written in, or None (General, or not a forum)."""
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


def topic_first(items: Sequence[Item], topic: int | None) -> list[Item]:
    """``items`` with those of ``topic`` first, each part in its original order."""
    if topic is None:
        return list(items)
    return [i for i in items if i.thread_id == topic] + [i for i in items if i.thread_id != topic]
