"""The Bot API methods about the bot itself and how it gets updates: ``getMe``, the command menus,
``getUpdates`` (long polling on the state's condition) and the webhook."""

from __future__ import annotations

import time

from bot.sandbox.botapi.objects import ApiError, as_bool
from bot.sandbox.botapi.state import EmulatorState


class UpdateMethods(EmulatorState):
    """``getMe``, ``logOut``/``close``, ``…Webhook``, ``…MyCommands``, ``getUpdates``."""

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

    def _api_deletewebhook(self, p: dict, f: dict) -> bool:
        self.webhook = {}
        if as_bool(p.get("drop_pending_updates")):
            self._updates.clear()
        return True

    def _api_setwebhook(self, p: dict, f: dict) -> bool:
        url = str(p.get("url", ""))
        if not url:
            self.webhook = {}
            return True
        self.webhook = {
            "url": url,
            "secret_token": p.get("secret_token"),
            "allowed_updates": p.get("allowed_updates"),
        }
        if as_bool(p.get("drop_pending_updates")):
            self._updates.clear()
        self._ensure_webhook_thread()
        return True

    def _api_getwebhookinfo(self, p: dict, f: dict) -> dict:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

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
        deadline = time.monotonic() + timeout
        while not self._updates and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(min(left, 0.5))
        return self._updates[:limit]
