"""Which topic a message is in, and a topic's own items listed first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import Chat, Message

from bot.telegram.topics import topic_first, topic_of

FORUM = Chat(-100, Chat.SUPERGROUP, is_forum=True)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Item:
    name: str
    thread_id: int | None


def test_only_a_topic_message_has_a_topic() -> None:
    assert topic_of(Message(1, NOW, FORUM, message_thread_id=77, is_topic_message=True)) == 77
    # outside forums, message_thread_id names a reply thread: not a place to post in
    assert topic_of(Message(2, NOW, Chat(-5, Chat.SUPERGROUP), message_thread_id=9)) is None
    assert topic_of(Message(3, NOW, FORUM)) is None  # General
    assert topic_of(None) is None


def test_topic_first_keeps_each_part_in_order() -> None:
    items = [Item("a", None), Item("b", 77), Item("c", 5), Item("d", 77)]
    assert [i.name for i in topic_first(items, 77)] == ["b", "d", "a", "c"]
    assert [i.name for i in topic_first(items, None)] == ["a", "b", "c", "d"]
    assert [i.name for i in topic_first(items, 1)] == ["a", "b", "c", "d"]
