"""Webhook delivery as Telegram does it: ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``,
and the threads that POST queued updates to the registered URL.

What the bot (and a load balancer in front of several bots) can rely on, as with Telegram:

- every update is POSTed as JSON with ``X-Telegram-Bot-Api-Secret-Token`` (when a secret was
  set), and stays queued until the receiver answers 2xx: a refused connection, a timeout or any
  other status is retried later, each failure of an update waiting longer (``retry_first``
  seconds, doubling up to ``retry_cap``); nothing is lost while the receiver is down;
- up to ``max_connections`` deliveries run at once (Telegram's default 40), but a chat's updates
  go one after another: an update is sent only once every earlier update of its chat was taken,
  so a receiver that answers 2xx after storing an update sees each chat in order;
- ``getUpdates`` answers 409 Conflict while a webhook is set; ``deleteWebhook`` returns to
  polling with the queue kept (``drop_pending_updates`` empties it);
- ``getWebhookInfo`` reports ``pending_update_count``, ``last_error_date`` and
  ``last_error_message`` in Telegram's words.

The emulator only delivers to loopback addresses (http or https): it is a test tool, and a test
must never post updates out of the machine.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from bot.sandbox.botapi.objects import ApiError, as_bool
from bot.sandbox.botapi.state import EmulatorState

DEFAULT_MAX_CONNECTIONS = 40  # Telegram's default
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass
class Failures:
    """How often one update's delivery failed, and when it may be tried again."""

    count: int
    retry_at: float


def sequence_of(update: dict) -> tuple[str, int]:
    """The ordering key of ``update``: its chat (a button press: the chat of its message), else
    its sender, else the update alone. Updates with the same key are delivered one at a time."""
    for name, value in update.items():
        if name == "update_id" or not isinstance(value, dict):
            continue
        chat = value.get("chat") or (value.get("message") or {}).get("chat")
        if chat:
            return ("chat", chat["id"])
        sender = value.get("from")
        if sender:
            return ("user", sender["id"])
    return ("update", update["update_id"])


def kind_of(update: dict) -> str:
    """The update's type as ``allowed_updates`` names it (``message``, ``callback_query``…)."""
    return next((k for k in update if k != "update_id"), "")


def _is_loopback(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


class WebhookDelivery(EmulatorState):
    """The webhook methods and the delivery of queued updates to the registered URL."""

    #: Seconds before a failed delivery of an update is retried; doubles per failure, up to
    #: ``retry_cap`` (Telegram's waits are longer; tests want a receiver's restart seen soon).
    retry_first = 0.2
    retry_cap = 2.0
    #: Seconds a receiver has to answer one POST before it counts as failed.
    delivery_timeout = 10.0

    # ------------------------------------------------------------------ the API
    def _api_setwebhook(self, p: dict, f: dict) -> bool:
        url = str(p.get("url") or "")
        if not url:
            return self._api_deletewebhook(p, f)
        if not _is_loopback(url):
            raise ApiError(
                400, "Bad Request: bad webhook: the emulator delivers to loopback http(s) only"
            )
        secret = p.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            raise ApiError(
                400, "Bad Request: bad webhook: secret token contains unallowed characters"
            )
        try:
            connections = int(p.get("max_connections") or DEFAULT_MAX_CONNECTIONS)
        except (TypeError, ValueError):
            raise ApiError(
                400, "Bad Request: bad webhook: max_connections is not a number"
            ) from None
        if not 1 <= connections <= 100:
            raise ApiError(400, "Bad Request: bad webhook: max_connections must be 1-100")
        if url != self.webhook.get("url"):
            self._webhook_error = None
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": p.get("allowed_updates") or None,
            "max_connections": connections,
        }
        if as_bool(p.get("drop_pending_updates")):
            self._drop_pending()
        self._ensure_webhook_thread()
        return True

    def _api_deletewebhook(self, p: dict, f: dict) -> bool:
        self.webhook = {}
        if as_bool(p.get("drop_pending_updates")):
            self._drop_pending()
        return True

    def _api_getwebhookinfo(self, p: dict, f: dict) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("url"):
            info["max_connections"] = self.webhook["max_connections"]
            info["ip_address"] = "127.0.0.1"
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = list(self.webhook["allowed_updates"])
        if self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    # ------------------------------------------------------------------ for tests
    def post_webhook(self, update: dict, secret: str | None) -> int:
        """POST one update to the registered webhook with ``secret`` as the secret header, once;
        return the HTTP status (0: no answer). Tests use it to forge or repeat a delivery."""
        return self._post(self.webhook["url"], update, secret)[0]

    def webhook_in_flight(self) -> int:
        """Deliveries under way at this moment."""
        with self._cond:
            return len(self._in_flight)

    # ------------------------------------------------------------------ delivery
    def _drop_pending(self) -> None:
        self._updates.clear()
        self._failures.clear()

    def _ensure_webhook_thread(self) -> None:
        """Start the dispatcher if a webhook is set and it is not running (called with the
        condition held, whenever an update is queued or the webhook set)."""
        if not self.webhook.get("url"):
            return
        if self._webhook_thread is None or not self._webhook_thread.is_alive():
            self._webhook_thread = threading.Thread(
                target=self._dispatch, name="emulator-webhook", daemon=True
            )
            self._webhook_thread.start()

    def _dispatch(self) -> None:
        """Hand every update that may go now to a delivery thread; sleep until the next change
        or the next retry is due. Ends when the webhook is deleted or the emulator stops."""
        with self._cond:
            while not self._stopping and self.webhook.get("url"):
                ready, wake = self._ready(time.monotonic())
                for update in ready:
                    self._in_flight.add(update["update_id"])
                    threading.Thread(
                        target=self._deliver,
                        args=(update, self.webhook["url"], self.webhook.get("secret_token")),
                        name=f"emulator-webhook-{update['update_id']}",
                        daemon=True,
                    ).start()
                self._cond.wait(0.5 if wake is None else min(wake, 0.5))

    def _ready(self, now: float) -> tuple[list[dict], float | None]:
        """Updates to send now (each the oldest pending of its chat, not in flight, its retry
        due, within ``max_connections``) and the seconds until the next retry falls due."""
        room = self.webhook["max_connections"] - len(self._in_flight)
        allowed = self.webhook.get("allowed_updates")
        if allowed:  # Telegram never delivers the types a bot did not ask for
            self._updates = [u for u in self._updates if kind_of(u) in allowed]
        waiting: set[tuple[str, int]] = set()
        ready: list[dict] = []
        wake: float | None = None
        for update in self._updates:
            sequence = sequence_of(update)
            if sequence in waiting:
                continue  # an earlier update of this chat is not taken yet
            waiting.add(sequence)
            if update["update_id"] in self._in_flight:
                continue
            failures = self._failures.get(update["update_id"])
            if failures is not None and failures.retry_at > now:
                due = failures.retry_at - now
                wake = due if wake is None else min(wake, due)
                continue
            if len(ready) < room:
                ready.append(update)
        return ready, wake

    def _deliver(self, update: dict, url: str, secret: str | None) -> None:
        status, error = self._post(url, update, secret)
        update_id = update["update_id"]
        with self._cond:
            self._in_flight.discard(update_id)
            self.webhook_deliveries.append((update_id, status))
            if 200 <= status < 300:
                self._updates = [u for u in self._updates if u["update_id"] != update_id]
                self._failures.pop(update_id, None)
            else:
                count = self._failures[update_id].count + 1 if update_id in self._failures else 1
                wait = min(self.retry_first * 2 ** (count - 1), self.retry_cap)
                self._failures[update_id] = Failures(count, time.monotonic() + wait)
                self._webhook_error = (int(time.time()), error or "")
            self._cond.notify_all()

    def _post(self, url: str, update: dict, secret: str | None) -> tuple[int, str | None]:
        """POST ``update`` to ``url``: (HTTP status or 0, Telegram's words for a failure)."""
        request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        if secret is not None:
            request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
        try:
            with urllib.request.urlopen(request, timeout=self.delivery_timeout) as response:
                return response.status, None
        except urllib.error.HTTPError as exc:
            reason = http.client.responses.get(exc.code, "")
            return exc.code, f"Wrong response from the webhook: {exc.code} {reason}".rstrip()
        except TimeoutError:
            return 0, "Read timeout expired"
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                return 0, "Connection refused"
            if isinstance(exc.reason, TimeoutError):
                return 0, "Read timeout expired"
            return 0, f"Connection failed: {exc.reason}"
        except OSError as exc:
            return 0, f"Connection failed: {type(exc).__name__}"
