"""Groups that change under the bot, as on Telegram: forums and their topics, a basic group upgraded
to a supergroup with a new id, and the bot removed, blocked or added back."""

from __future__ import annotations

import time
from typing import Any

from bot.sandbox.botapi.objects import ANONYMOUS_ADMIN
from bot.sandbox.botapi.state import EmulatorState


class GroupChanges(EmulatorState):
    """Forums, upgrades to supergroups, and the bot's own membership (``my_chat_member``)."""

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
                service.raw = {
                    "forum_topic_created": {"name": f"Topic {n + 1}", "icon_color": 7322096}
                }
                threads.add(service.message_id)
                created.append(service.message_id)
            return created

    def make_basic_group(self, chat_id: int, title: str | None = None) -> None:
        """Make ``chat_id`` a basic group (type ``group``), the kind Telegram upgrades."""
        with self._cond:
            self._basic_groups.add(chat_id)
            if title:
                self._chat_titles[chat_id] = title

    def upgrade_group(
        self, old_chat_id: int, new_chat_id: int, *, user_id: int = 1, announce: bool = True
    ) -> None:
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
                note.raw = {
                    **self._message_dict(note),
                    "from": ANONYMOUS_ADMIN,
                    "sender_chat": self._chat(new_chat_id),
                    "migrate_from_chat_id": old_chat_id,
                }
                self._push_update({"message": note.raw})
            self._migrated[old_chat_id] = new_chat_id

    def remove_bot(self, chat_id: int, user_id: int, *, announce: bool = True) -> None:
        """``user_id`` removes the bot from group ``chat_id``, or (``chat_id == user_id``) blocks
        it.

        Every call for that chat then answers 403 Forbidden. With ``announce`` the bot gets the
        ``my_chat_member`` update Telegram sends; without, the 403 is the only sign.
        """
        private = chat_id > 0
        with self._cond:
            self._bot_away[chat_id] = (
                "Forbidden: bot was blocked by the user"
                if private
                else "Forbidden: bot was kicked from the group chat"
            )
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

        self._push_update(
            {
                "my_chat_member": {
                    "chat": self._chat(chat_id),
                    "from": self.user(user_id),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(status),
                }
            }
        )
