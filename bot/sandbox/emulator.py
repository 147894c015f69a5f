"""A Bot API emulator: a real HTTP server on loopback that speaks the part of the Bot API Errand
uses.

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

The class is put together from one part per area, in :mod:`bot.sandbox.botapi`: the shared state
and update queue, observing, acting as users, groups that change, and the API methods on
messages, files and updates. This module is the one to import.
"""

from __future__ import annotations

import shutil
import threading
from http.server import ThreadingHTTPServer

from bot.sandbox.botapi.files import FileMethods
from bot.sandbox.botapi.groups import GroupChanges
from bot.sandbox.botapi.objects import (
    ANONYMOUS_ADMIN,
    CHANNEL_POSTER,
    DEFAULT_TOKEN,
    ApiError,
    Call,
    Fault,
    Message,
)
from bot.sandbox.botapi.server import handler_class
from bot.sandbox.botapi.updates import UpdateMethods
from bot.sandbox.botapi.users import UserActions
from bot.sandbox.botapi.webhook import WebhookDelivery


class BotApiEmulator(UserActions, GroupChanges, FileMethods, UpdateMethods, WebhookDelivery):
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
        super().__init__(
            token,
            bot_username=bot_username,
            upload_limit=upload_limit,
            local_mode=local_mode,
            first_message_id=first_message_id,
            first_update_id=first_update_id,
        )
        self._server = ThreadingHTTPServer((host, port), handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """The value for ``TELEGRAM_API_URL``."""
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> BotApiEmulator:
        # stop() waits for serve_forever to look at its flag: every 0.05 s rather than the default
        # 0.5 s, which every test that uses an emulator paid at its end.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="bot-api-emulator",
            daemon=True,
        )
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

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "ANONYMOUS_ADMIN",
    "CHANNEL_POSTER",
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiEmulator",
    "Call",
    "Fault",
    "Message",
]
