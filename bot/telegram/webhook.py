"""Webhook mode: a small HTTP server that takes Telegram's POSTs, checking the secret first.

Why not python-telegram-bot's ``run_webhook``: its server reads the whole body (up to tornado's
100 MB default) *before* it looks at ``X-Telegram-Bot-Api-Secret-Token``, so anyone who finds the
port can make the bot buffer 100 MB per request (8 concurrent 95 MB POSTs took it from 78 to
714 MB). Here the handler streams the body: the secret and ``Content-Length`` are checked from the
headers, before a byte of body is read; a request without the secret gets 403, one over
:data:`MAX_BODY` (an update is a few kB; Telegram's largest are far below 1 MB) gets 413, and the
connection is closed instead of reading the rest.

An accepted update goes through the Application's ``update_queue`` (:mod:`bot.telegram.intake`
stores it before the 200 is sent), as in polling mode. The lifecycle around the server is
python-telegram-bot's own: ``initialize``, ``post_init``, ``start``; on SIGTERM or SIGINT
``stop``, ``post_stop``, ``shutdown``, ``post_shutdown``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal

from telegram import Update
from telegram.ext import Application
from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer
from tornado.web import Application as WebApplication
from tornado.web import HTTPError, RequestHandler, stream_request_body

from bot.humanize import MiB

log = logging.getLogger(__name__)

MAX_BODY = MiB
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@stream_request_body
class UpdateHandler(RequestHandler):
    """``POST {path}``: one update as JSON. Headers are judged before the body is read."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, app: Application, secret: str | None) -> None:
        self.app = app
        self.secret = secret
        self.body = bytearray()

    def prepare(self) -> None:
        if self.secret is not None:
            given = self.request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                log.warning(
                    "webhook request from %s without the right secret; refused",
                    self.request.remote_ip,
                )
                raise HTTPError(403)
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise HTTPError(413)
        connection = self.request.connection
        if not isinstance(connection, HTTP1Connection):  # what tornado's HTTPServer always gives
            raise RuntimeError(f"webhook request on an unexpected connection: {connection!r}")
        connection.set_max_body_size(MAX_BODY)

    def data_received(self, chunk: bytes) -> None:
        self.body += chunk
        if len(self.body) > MAX_BODY:  # chunked bodies carry no Content-Length
            raise HTTPError(413)

    async def post(self) -> None:
        try:
            update = Update.de_json(json.loads(self.body), self.app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("webhook body is not an update (%s); refused", type(exc).__name__)
            raise HTTPError(400) from None
        if update is None:
            raise HTTPError(400)
        await self.app.update_queue.put(update)
        self.set_status(200)

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Connection", "close")  # do not read the rest of a refused body
        self.finish()

    def log_exception(self, typ, value, tb) -> None:
        if not isinstance(value, HTTPError):
            super().log_exception(typ, value, tb)


async def serve(
    app: Application, *, host: str, port: int, path: str, url: str, secret: str | None
) -> None:
    """Run ``app`` behind the webhook server until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server: HTTPServer | None = None
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        web = WebApplication(
            [(f"/{path.lstrip('/')}", UpdateHandler, {"app": app, "secret": secret})]
        )
        server = HTTPServer(web, max_body_size=MAX_BODY, idle_connection_timeout=60)
        server.listen(port, host)
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        await app.start()
        log.info("webhook server listening on %s:%s", host, port)
        await stop.wait()
    finally:
        if server is not None:
            server.stop()
        if app.running:
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
