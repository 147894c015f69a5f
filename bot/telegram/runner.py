"""``errandbot run``: start the bot by long polling, or as a webhook server when WEBHOOK_URL is set.

python-telegram-bot's ``run_polling`` (and :func:`bot.telegram.webhook.serve`, which checks the
webhook secret before reading a body) install handlers for SIGINT and SIGTERM and shut down in
order (stop fetching updates, finish handlers, run ``post_stop``), which is what keeps a SIGTERM
stop under the 10 s the service manager allows.

Only one process polls per database: a second one stands by (:mod:`bot.telegram.standby`) and
takes over when the first dies. Webhook replicas all serve at once; each update is handled once,
each chat in order (:mod:`bot.telegram.intake`).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

from bot.config import Settings, SettingsError, prepare_dirs
from bot.dbfile import DamagedDatabase
from bot.logsetup import scrub, setup_logging
from bot.work.role import Command, ProcessRole

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits for news


def run_bot(settings: Settings, command: Command = Command.RUN) -> int:
    """``errandbot run`` (and ``errandbot worker``: ``command``); returns the exit status."""
    role = ProcessRole.of(command, settings)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    setup_logging(settings.log_level, secrets=(settings.token, secret))
    if not settings.token:
        raise SettingsError("BOT_TOKEN: not set; get a token from @BotFather and put it in .env")
    prepare_dirs(settings)
    from bot.health import read_only_database

    read_only = read_only_database(settings.db_url)
    if read_only is not None:  # a restore as root: reads work, the first write would crash
        raise SettingsError(f"database: {read_only}")

    from bot.schema import SchemaError
    from bot.telegram.app import build_application

    _scrub_uncaught((settings.token, secret))
    _quiet_library_tracebacks()
    try:
        app = build_application(settings, role)
    except (DamagedDatabase, SchemaError) as exc:
        print(f"errandbot: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:  # the database server is down, unreachable or refuses us
        print(_unreachable_database(settings, exc), file=sys.stderr)
        return 1
    log.info("Errand starting against %s (%s)", settings.telegram_api_url, role.name)
    try:
        code = _run(app, settings, secret, role)
    except InvalidToken:
        print("errandbot: Telegram rejected BOT_TOKEN; check it with @BotFather", file=sys.stderr)
        return 2
    except NetworkError as exc:
        if isinstance(exc, BadRequest):
            print(
                scrub(
                    f"errandbot: the Bot API refused a start-up call: {exc}",
                    (settings.token or "",),
                ),
                file=sys.stderr,
            )
        else:
            print(
                scrub(
                    f"errandbot: cannot reach the Bot API at {settings.telegram_api_url} ({exc}); "
                    "check the network, or TELEGRAM_API_URL",
                    (settings.token or "",),
                ),
                file=sys.stderr,
            )
        return 1
    except TelegramError as exc:
        print(
            scrub(f"errandbot: the Bot API failed: {exc}", (settings.token or "",)), file=sys.stderr
        )
        return 1
    log.info("Errand stopped")
    return code


def _unreachable_database(settings: Settings, exc: OperationalError) -> str:
    """One line for a database that cannot be reached at start-up, password masked (the
    service manager restarts the process; a 40-line traceback says no more than this)."""
    from bot.db.url import shown

    reason = str(exc.orig or exc).strip().splitlines()[0]
    password = make_url(settings.db_url).password
    line = (
        f"errandbot: cannot reach the database at {shown(settings.db_url)} ({reason}); "
        "check DATABASE_URL and that the server is running"
    )
    return scrub(line, (password,)) if password else line


class _NoLibraryTracebacks(logging.Filter):
    """python-telegram-bot logs a Bot API failure with its full traceback (50-100 lines through
    httpx and httpcore) before the one line we print. The failure is the message, not the stack:
    keep its line, drop the traceback; and drop the start-up "Aborting" record entirely, since
    :func:`run_bot` says the same in plain words."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("telegram.") or not record.exc_info:
            return True
        exc = record.exc_info[1]
        if not isinstance(exc, TelegramError):
            return True
        message = record.getMessage()
        if "Bootstrap" in message or "Invalid token" in message:
            return False
        record.msg = f"{message} ({type(exc).__name__}: {exc})"
        record.args = None
        record.exc_info = record.exc_text = None
        return True


def _quiet_library_tracebacks() -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoLibraryTracebacks())


def _scrub_uncaught(secrets: tuple[str | None, ...]) -> None:
    """Route uncaught exceptions (main and other threads) through the scrubber, never raw.

    Python's default printer bypasses logging; an error whose message quotes the token (as
    python-telegram-bot's InvalidToken does) would otherwise reach stderr and the journal.
    """
    kept = tuple(s for s in secrets if s)

    def show(
        kind: type[BaseException], value: BaseException | None, tb: TracebackType | None
    ) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(scrub(text, kept))

    sys.excepthook = show
    threading.excepthook = lambda args: show(args.exc_type, args.exc_value, args.exc_traceback)


def _run(app, settings: Settings, secret: str | None, role: ProcessRole) -> int:
    if not role.receives_updates:
        import asyncio

        from bot.work.process import serve_work

        asyncio.run(serve_work(app))
        return 0
    if settings.webhook_url:
        host, port = settings.listen_host_port
        path = urlsplit(settings.webhook_url).path.lstrip("/")
        import asyncio

        from bot.telegram.webhook import serve

        asyncio.run(
            serve(app, host=host, port=port, path=path, url=settings.webhook_url, secret=secret)
        )
        return 0
    from bot.telegram.standby import PollingLock

    lock = PollingLock(settings.db_url)
    try:
        if not lock.wait():  # a standby stopped before its turn came
            return 0
        lock.watch(app)
        app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=POLL_TIMEOUT)
    finally:
        lock.release()
    if lock.lost:
        print(
            "errandbot: lost the polling lock; stopped so that one process polls", file=sys.stderr
        )
        return 1
    return 0
