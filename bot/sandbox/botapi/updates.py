"""The Bot API methods about the bot itself and how it gets updates: ``getMe``, the command menus,
``getUpdates`` (long polling on the state's condition; the webhook is :mod:`.webhook`)."""

from __future__ import annotations

import time

from bot.sandbox.botapi.objects import ApiError
from bot.sandbox.botapi.state import EmulatorState


class UpdateMethods(EmulatorState):
    """``getMe``, ``logOut``/``close``, ``…MyCommands``, ``getUpdates``.

    As on Telegram, only one ``getUpdates`` may wait at a time: a second one ends the first with
    409 Conflict ("terminated by other getUpdates request"), which is what two bot processes
    polling with one token see."""

    def _api_getme(self, p: dict, f: dict) -> dict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_logout(self, p: dict, f: dict) -> bool:
        return True

    def _api_close(self, p: dict, f: dict) -> bool:
        return True

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
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), 50.0)
        limit = int(p.get("limit") or 100)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._polls += 1
        mine = self._polls
        deadline = time.monotonic() + timeout
        while not self._updates and not self._stopping:
            if self._polls != mine:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(min(left, 0.5))
        return self._updates[:limit]
