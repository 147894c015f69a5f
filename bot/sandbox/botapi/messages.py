"""The Bot API methods on messages and chats: send, edit, delete, chat actions, button answers,
members and chat info; with Telegram's 400/403 answers for what it refuses."""

from __future__ import annotations

import time
from typing import Any

from bot.sandbox.botapi.objects import ApiError, Message, as_bool
from bot.sandbox.botapi.state import EmulatorState


class MessageMethods(EmulatorState):
    """``sendMessage``, ``editMessage…``, ``deleteMessage``, ``getChat…`` and what they share."""

    def _chat_id(self, p: dict) -> int:
        try:
            chat_id = int(p["chat_id"])
        except (KeyError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self._migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self._migrated[chat_id],
            )
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
        message = self._new_message(
            chat_id,
            self.bot_id,
            text,
            reply_to=self._reply_to(p),
            reply_markup=p.get("reply_markup") or None,
            thread_id=self._thread_id(chat_id, p),
            **extra,
        )
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
            if (
                entity.get("type") == "text_mention"
                and int((entity.get("user") or {}).get("id", 0)) <= 0
            ):
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
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content "
                "and reply markup are exactly the same as a current content and reply "
                "markup of the message",
            )
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
        self._callback_answers[query_id] = {
            "text": p.get("text"),
            "show_alert": as_bool(p.get("show_alert")),
        }
        return True

    def _api_getchatmember(self, p: dict, f: dict) -> dict:
        chat_id = self._chat_id(p)
        user_id = int(p.get("user_id", 0))
        status = self._members.get((chat_id, user_id), "member")
        out: dict[str, Any] = {"status": status, "user": self.user(user_id)}
        if status == "administrator":
            out.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
            )
        if status == "creator":
            out.update(is_anonymous=False)
        if status == "restricted":
            status = "member"
            out["status"] = status
        return out

    def _api_getchat(self, p: dict, f: dict) -> dict:
        chat = self._chat(self._chat_id(p))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
        }
