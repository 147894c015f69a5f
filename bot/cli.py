"""The ``errandbot`` command line: ``run``, ``worker``, ``sandbox``, ``download``, ``check``,
``db``.

With no subcommand it runs the real bot when ``BOT_TOKEN`` is set and the offline sandbox
otherwise, and says which on its first line. Each subcommand lives in the package it drives;
this module only parses arguments and turns a :class:`SettingsError` into exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING

from bot import __version__

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.download_settings import DownloadSettings

EXIT_BAD_SETTINGS = 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="errandbot",
        description="Errand: a Telegram bot for downloads, timers and reminders.",
    )
    parser.add_argument("--version", action="version", version=f"errandbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run the bot (long polling, or webhook when WEBHOOK_URL is set)"
    )
    run.add_argument(
        "--hold-on-bad-setting",
        action="store_true",
        help="on a bad setting, say so once and wait for SIGTERM instead of exiting "
        "(the Docker image's default: a restart policy would retry it in a loop)",
    )

    sub.add_parser(
        "worker",
        help="PostgreSQL mode: run downloads and rings from the shared database, no updates "
        "(start any number)",
    )

    sandbox = sub.add_parser("sandbox", help="try the bot offline in a terminal chat")
    sandbox.add_argument(
        "--script", help="read chat lines from this file instead of the terminal ('-' for stdin)"
    )
    sandbox.add_argument(
        "--keep",
        action="store_true",
        help="start from the last sandbox run's state (timers, downloads) instead of a fresh one",
    )

    download = sub.add_parser("download", help="download a URL with several connections")
    download.add_argument("url")
    download.add_argument("-o", "--output-dir", default=".", help="folder to save into (default .)")
    download.add_argument(
        "-c",
        "--connections",
        type=int,
        default=None,
        help="most connections, 1-16 (default DOWNLOAD_CONNECTIONS, 16); "
        "starts with 8, more while each is slow, fewer when this machine is the limit",
    )
    download.add_argument("--checksum", help="expected digest, e.g. sha256:HEX (also sha1, md5)")
    download.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    download.add_argument(
        "--allow-private",
        action="store_true",
        help="allow loopback and private addresses (this run only)",
    )
    download.add_argument(
        "--audio", action="store_true", help="from a page with a video: the audio alone"
    )
    download.add_argument(
        "--format", help="from a page with a video: a yt-dlp format selection, e.g. 'bv*+ba/b'"
    )

    sub.add_parser("check", help="check the configuration and the Bot API, then exit")

    from bot.db.commands import add_parser as add_db_parser

    add_db_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "download":
        # Without pydantic when the download settings alone are set: its import would be most of
        # the command's start-up (bot.download_settings). Otherwise the full check below.
        from bot.download_settings import read_download_settings

        quick = read_download_settings()
        if quick is not None:
            return _download(quick, args)

    # Imported here, not at the top: a download's child process (``spawn``) re-imports this module
    # as its main, and settings (pydantic) would cost it 14 MiB it never uses.
    from bot.config import SettingsError, load_settings

    try:
        settings = load_settings()
        command = args.command
        if command is None:
            command = "run" if settings.token else "sandbox"
            how = "BOT_TOKEN is set" if settings.token else "no BOT_TOKEN"
            print(f"errandbot: {command} ({how})", flush=True)
            args = _build_parser().parse_args([command])

        if command == "run":
            from bot.telegram.runner import run_bot

            return run_bot(settings)
        if command == "worker":
            if not settings.uses_postgres:
                raise SettingsError(
                    "DATABASE_URL: errandbot worker needs PostgreSQL (postgresql+psycopg://…); "
                    "with SQLite one errandbot run does everything"
                )
            from bot.telegram.runner import run_bot
            from bot.work.role import Command

            return run_bot(settings, Command.WORKER)
        if command == "sandbox":
            from bot.sandbox.terminal import run_sandbox

            return run_sandbox(settings, script=args.script, keep=getattr(args, "keep", False))
        if command == "download":
            return _download(settings, args)
        if command == "check":
            from bot.health import run_check

            return run_check(settings)
        if command == "db":
            from bot.db.commands import run as run_db

            return run_db(settings, args)
    except SettingsError as exc:
        print(f"errandbot: bad setting {exc}", file=sys.stderr, flush=True)
        if getattr(args, "hold_on_bad_setting", False):
            _hold_until_stopped()
        return EXIT_BAD_SETTINGS
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command!r}")


def _download(settings: Settings | DownloadSettings, args: argparse.Namespace) -> int:
    """``errandbot download``, with ``settings`` from either reader (same attribute names)."""
    from bot.downloads.cli import run_download

    try:
        return run_download(settings, args)
    except KeyboardInterrupt:
        return 130


def _hold_until_stopped() -> None:
    """Wait for SIGTERM or SIGINT, doing nothing.

    Docker's restart policies cannot tell a bad setting (exit 2: restarting cannot help) from a
    crash, and ``on-failure`` would not start the bot again after a reboot either (it stopped
    cleanly, status 0). So in the image the bot stays up, idle and unhealthy, with the one line
    in its log, until the operator fixes the setting and recreates the container.
    """
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # before saying so: none may slip past
    print(
        "errandbot: not running until the setting is fixed; then recreate the container "
        "(docker compose up -d)",
        file=sys.stderr,
        flush=True,
    )
    signal.sigwait(stop)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
