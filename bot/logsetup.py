"""Logging set-up, with secrets scrubbed from every record.

The bot token is part of every Bot API URL (``/bot<token>/method``), and httpx logs request URLs
at INFO, so a single careless handler would leak it. Rather than trusting every logger, one filter
on the root handler rewrites each formatted record: the token itself, anything shaped like a
token after ``/bot``, and credentials inside URLs (``https://user:pass@host``).
"""

from __future__ import annotations

import logging
import re
import sys

_TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9])\d{3,}:[A-Za-z0-9_-]{20,}")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Return ``text`` with the given secrets, token-shaped strings and URL credentials masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    text = _TOKEN_SHAPE.sub("[REDACTED]", text)
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose output never contains the secrets it was given (tracebacks included)."""

    def __init__(self, fmt: str, secrets: tuple[str, ...]) -> None:
        super().__init__(fmt)
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self._secrets)


def setup_logging(level: str = "INFO", secrets: tuple[str | None, ...] = (), stream=None) -> None:
    """Configure the root logger once: one scrubbed stream handler, quiet HTTP client loggers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        ScrubbingFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", tuple(s for s in secrets if s)
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL (with the token) at INFO; the formatter would scrub it, but
    # these lines are noise for an operator anyway. APScheduler logs each job added and run at
    # INFO: with every pending ring a job on the one scheduler, 10,000 lines at a start-up.
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler.executors.default",
        "apscheduler.scheduler",
        "urllib3",
        # Alembic names each plugin it sets up at import, before bot.db.migrate can quiet it.
        "alembic.runtime.plugins",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
