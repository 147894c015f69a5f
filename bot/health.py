"""``errandbot check``: is this installation ready to run? One line per check, exit 0 only if all
pass.

Operators run it after editing the configuration, and Docker runs it as the ``HEALTHCHECK``, so it
must be quick (short timeouts), must not change anything that matters (it creates the data
folders, as start-up would, but never the database), and must never print the bot token, which
is part of every Bot API URL: errors are reported by kind, never by the exception text that
``requests`` builds around the URL.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bot import __version__
from bot.config import Settings, SettingsError, prepare_dirs
from bot.humanize import MiB
from bot.logsetup import scrub

#: (connect, read) seconds for getMe: enough for a slow VPS, short enough for a healthcheck.
API_TIMEOUT = (5.0, 10.0)

EXIT_OK = 0
EXIT_PROBLEMS = 1


@dataclass(frozen=True)
class Result:
    """The outcome of one check; any ``ok`` False makes ``errandbot check`` exit 1. A ``warning``
    is shown but does not fail: something that may be wrong, which the bot cannot see from here."""

    name: str
    ok: bool
    message: str
    warning: bool = False


def _check_bot_api(settings: Settings) -> Result:
    api = scrub(settings.telegram_api_url)
    token = settings.token
    if not token:
        return Result(
            "Bot API",
            False,
            "BOT_TOKEN is not set: get a token from @BotFather and put it in the environment file",
        )
    try:
        response = requests.get(
            f"{settings.telegram_api_url}/bot{token}/getMe", timeout=API_TIMEOUT
        )
    except requests.Timeout:
        return Result(
            "Bot API",
            False,
            f"{api} did not answer in time: check the network and TELEGRAM_API_URL",
        )
    except requests.RequestException as exc:
        kind = exc.__class__.__name__
        return Result(
            "Bot API", False, f"cannot reach {api} ({kind}): check the network and TELEGRAM_API_URL"
        )
    if response.status_code in (401, 404):
        return Result(
            "Bot API",
            False,
            f"{api} rejected the token (HTTP {response.status_code}):"
            " copy it again from @BotFather into BOT_TOKEN",
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("ok"):
        return Result(
            "Bot API",
            False,
            f"{api} answered HTTP {response.status_code} to getMe: "
            "is TELEGRAM_API_URL a Bot API server?",
        )
    me = body.get("result") or {}
    return Result("Bot API", True, f"@{me.get('username', '?')} (id {me.get('id', '?')}) at {api}")


def _check_dirs(settings: Settings) -> Result:
    try:
        prepare_dirs(settings)
    except SettingsError as exc:
        return Result("folders", False, f"{exc}: create it and give the bot's user write access")
    return Result(
        "folders",
        True,
        f"DATA_DIR {settings.data_dir} and DOWNLOAD_DIR {settings.downloads_path} are writable",
    )


def _check_disk(settings: Settings) -> Result:
    path = settings.downloads_path
    while not path.exists() and path != path.parent:
        path = path.parent
    free_mb = shutil.disk_usage(path).free // MiB
    reserve = settings.disk_reserve_mb
    if free_mb < reserve:
        return Result(
            "disk",
            False,
            f"{free_mb} MB free for DOWNLOAD_DIR, below DISK_RESERVE_MB="
            f"{reserve}: free some space or lower the reserve",
        )
    return Result("disk", True, f"{free_mb} MB free for DOWNLOAD_DIR (reserve {reserve} MB)")


#: Files SQLite writes beside the database (write-ahead log, shared memory, rollback journal).
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _read_only_part(db: Path) -> Path | None:
    """The database file, its folder or a side file this process may not write, if any.

    A database restored as another user (``docker cp`` leaves it owned by root) opens and reads
    fine, so a read-only probe passes while every change fails with "attempt to write a
    readonly database". Asking the kernel (``access``) tests exactly that and changes nothing:
    no lock, no journal file, no write.
    """
    side = [db.with_name(db.name + suffix) for suffix in SQLITE_SIDE_FILES]
    for path in (db, db.parent, *(p for p in side if p.exists())):
        if not os.access(path, os.W_OK):
            return path
    return None


def read_only_database(url: str) -> str | None:
    """Why a SQLite database at ``url`` cannot be written by this process, or None. The check's
    words, and ``errandbot run``'s at start-up (it would fail at its first write otherwise)."""
    if not url.startswith("sqlite:///"):
        return None
    db = Path(url.removeprefix("sqlite:///"))
    blocked = _read_only_part(db) if db.exists() else None
    if blocked is None:
        return None
    return (
        f"{blocked} is read-only for this user (uid {os.getuid()}), so nothing could be saved: "
        "give it back to the bot's user (docs/deploy.md, Restore)"
    )


def _check_database(settings: Settings) -> Result:
    from bot.db.migrate import State, status
    from bot.db.url import shown
    from bot.schema import SchemaError
    from bot.storage import make_engine

    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return Result("database", True, "not created yet; the bot creates it on first start")
    read_only = read_only_database(url)  # before opening it: opening may write (WAL mode)
    if read_only is not None:
        return Result("database", False, read_only)
    try:
        engine = make_engine(url)
        try:
            found = status(engine)
        finally:
            engine.dispose()
    except SchemaError as exc:
        return Result("database", False, str(exc))
    except Exception as exc:  # a missing driver, a refused connection: its kind, no traceback
        return Result(
            "database",
            False,
            f"cannot open it ({exc.__class__.__name__}): check DATABASE_URL or DATA_DIR",
        )
    where = f"{found.dialect} at {shown(url)}"
    if found.state is State.EMPTY:
        return Result("database", True, f"{where}, empty; the bot creates its tables on start")
    if found.state is State.AHEAD:
        return Result(
            "database",
            False,
            f"{where}: migration {found.revision} is newer than this "
            f"release ({found.head}): update Errand or restore a backup",
        )
    if found.pending:
        return Result(
            "database",
            True,
            f"{where}, migration {found.revision or 'none (older release)'}"
            f"; {len(found.pending)} pending, applied on start "
            "(or: errandbot db upgrade)",
        )
    return Result("database", True, f"{where}, migration {found.head} (current)")


def _check_queue(settings: Settings) -> Result | None:
    """PostgreSQL mode: jobs waiting (the oldest one's age), running, workers seen lately."""
    if not settings.uses_postgres:
        return None
    from bot.humanize import human_duration
    from bot.storage import make_engine
    from bot.work.report import SEEN_WITHIN, queue_report

    try:
        engine = make_engine(settings.db_url)
        try:
            with engine.connect() as conn:
                found = queue_report(conn)
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - the database line above says why it cannot be read
        return None
    if found is None:
        return Result("queue", True, "not created yet; the bot creates it on first start")
    oldest = (
        f" (the oldest for {human_duration(found.oldest_wait)})"
        if found.oldest_wait is not None
        else ""
    )
    message = (
        f"{found.waiting} job(s) waiting{oldest}, {found.running} running; "
        f"{found.workers} worker(s) seen in the last {SEEN_WITHIN} s"
    )
    if found.workers == 0:
        return Result(
            "queue",
            True,
            f"{message}: nothing runs downloads (start errandbot worker, or RUN_WORKER=true)",
            warning=True,
        )
    return Result("queue", True, message)


#: Telegram's own Bot API servers take uploads up to 50 MB; only a local server takes more.
PUBLIC_API_HOST = "api.telegram.org"
PUBLIC_UPLOAD_MB = 50


def _check_upload_limit(settings: Settings) -> Result | None:
    if settings.max_upload_mb <= PUBLIC_UPLOAD_MB:
        return None
    if urlsplit(settings.telegram_api_url).hostname == PUBLIC_API_HOST:
        return Result(
            "uploads",
            False,
            f"MAX_UPLOAD_MB={settings.max_upload_mb} needs a local Bot "
            f"API server in TELEGRAM_API_URL; {PUBLIC_API_HOST} takes "
            f"{PUBLIC_UPLOAD_MB} MB",
        )
    return Result("uploads", True, f"up to {settings.max_upload_mb} MB through the local server")


def _unreadable_for_others(folder: Path) -> str | None:
    """Why another user (the Bot API server's) could not read files the bot writes in ``folder``,
    through the group or the others bits; None when it could."""
    if not folder.is_dir():
        return f"{folder} is not a folder"
    for place in (*reversed(folder.parents), folder):
        mode = place.stat().st_mode
        if not mode & (stat.S_IXGRP | stat.S_IXOTH):
            return f"{place} (mode {stat.S_IMODE(mode):04o}) lets only its owner in"
    mode = folder.stat().st_mode
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"{folder} (mode {stat.S_IMODE(mode):04o}) is readable by its owner only"
    mask = os.umask(0)
    os.umask(mask)
    if mask & 0o044 == 0o044:
        return f"the bot creates files readable by itself only (umask {mask:04o})"
    return None


def _check_local_mode(settings: Settings) -> Result | None:
    """TELEGRAM_LOCAL_MODE hands files to the Bot API server as file:///DOWNLOAD_DIR/…: the server
    must be a local one, and must be able to read that path."""
    if not settings.telegram_local_mode:
        return None
    if urlsplit(settings.telegram_api_url).hostname == PUBLIC_API_HOST:
        return Result(
            "local mode",
            False,
            f"TELEGRAM_LOCAL_MODE=true needs a telegram-bot-api server "
            f"started with --local in TELEGRAM_API_URL; {PUBLIC_API_HOST} "
            "cannot read files on this machine",
        )
    folder = settings.downloads_path.resolve()  # as the download service names files
    problem = _unreadable_for_others(folder)
    if problem:
        return Result(
            "local mode",
            True,
            f"the Bot API server reads files under {folder}, but {problem}: "
            "run it as the bot's user or in its group, or loosen the mode "
            "(docs/deploy.md, step 9)",
            warning=True,
        )
    return Result(
        "local mode",
        True,
        f"files are sent by path under {folder}: the Bot API server must "
        "see them at that same path",
    )


def _check_webhook(settings: Settings) -> Result | None:
    if not settings.webhook_url:
        return None
    host, port = settings.listen_host_port
    return Result("webhook", True, f"{scrub(settings.webhook_url)} served on {host}:{port}")


def _check_polling(settings: Settings) -> Result | None:
    """Who polls: one process per database does, any other ``errandbot run`` stands by."""
    if settings.webhook_url:
        return None
    from bot.telegram.standby import who_polls

    try:
        holder = who_polls(settings.db_url)
    except Exception as exc:  # noqa: BLE001 - the database line says what is wrong with it
        return Result("polling", True, f"cannot tell who polls ({type(exc).__name__})", True)
    if holder is None:
        return Result("polling", True, "no errandbot run polls now; the first to start will")
    return Result("polling", True, f"{holder} polls; another errandbot run would stand by")


def _check_media(settings: Settings) -> Result | None:
    """yt-dlp's version (sites change weekly: ``pip install -U yt-dlp``) and whether ffmpeg is
    there."""
    if not settings.media_extract:
        return Result(
            "media pages", True, "off (MEDIA_EXTRACT=false): a page is downloaded as a file"
        )
    from bot.media import ffmpeg
    from bot.media.extract import version

    found = ffmpeg.version() if ffmpeg.available() else None
    if found is None:
        return Result(
            "media pages",
            True,
            f"yt-dlp {version()}; ffmpeg not found, so pages with a video "
            "are refused (apt-get install ffmpeg)",
            warning=True,
        )
    return Result("media pages", True, f"yt-dlp {version()}, ffmpeg {found}")


CHECKS: tuple[Callable[[Settings], Result | None], ...] = (
    _check_bot_api,
    _check_dirs,
    _check_disk,
    _check_database,
    _check_upload_limit,
    _check_local_mode,
    _check_webhook,
    _check_polling,
    _check_media,
    _check_queue,
)


def run_checks(settings: Settings) -> list[Result]:
    """Every check, in order; settings themselves were validated when they were loaded."""
    results = [Result("settings", True, "valid")]
    for check in CHECKS:
        result = check(settings)
        if result is not None:
            results.append(result)
    return results


def run_check(settings: Settings) -> int:
    """Print the report and return the exit status: 0 when every check passed, 1 otherwise."""
    results = run_checks(settings)
    print(f"errandbot {__version__} check")
    for result in results:
        mark = "FAIL" if not result.ok else "warn" if result.warning else "ok  "
        print(f"  {mark}  {result.name}: {scrub(result.message, (settings.token or '',))}")
    problems = sum(not r.ok for r in results)
    warnings = sum(r.ok and r.warning for r in results)
    print(
        ("all good" if not warnings else f"all good, {warnings} warning(s)")
        if not problems
        else f"{problems} problem(s) found"
    )
    return EXIT_OK if not problems else EXIT_PROBLEMS
