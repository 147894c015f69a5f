"""What the chat layer is handed at start-up: settings, the database, and lifecycle hooks.

One :class:`Services` object lives in ``application.bot_data["services"]``. Feature modules
(``bot/telegram/handlers/*.py``) receive it in their ``register()``, set the attribute that holds
their service (``services.reminders = …``) and add start-up and shutdown hooks to it, so that
``app.py`` does not need to know what each feature keeps running. Each feature's object is a typed
attribute, None until that feature is registered (a bot built with fewer features, a test).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import sessionmaker

from bot.config import Settings
from bot.work.role import ProcessRole

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.downloads.service import DownloadService
    from bot.i18n.store import LanguageChoices
    from bot.reminders.service import ReminderService
    from bot.telegram.chat_faults import ChatFaults
    from bot.telegram.download_notifier import DownloadNotifier
    from bot.telegram.handlers.cancel import Canceller
    from bot.telegram.reminder_notifier import ReminderNotifier

Hook = Callable[["Application"], Awaitable[None]]
T = TypeVar("T")


@dataclass
class Services:
    """Shared objects for handlers: settings, the database, and each feature's service."""

    settings: Settings
    sessions: sessionmaker
    started_at: float = 0.0
    #: What this process does (receive updates, run downloads and rings): features start only
    #: their part of it. The default is SQLite's one process doing everything.
    role: ProcessRole = field(
        default_factory=lambda: ProcessRole(
            receives_updates=True, runs_work=True, shared_database=False
        )
    )
    #: The reply language each person and chat chose (:mod:`bot.telegram.i18n`).
    languages: LanguageChoices | None = None
    #: Timers and reminders (:mod:`bot.telegram.handlers.reminders`), and their rings and
    #: countdowns.
    reminders: ReminderService | None = None
    reminder_notifier: ReminderNotifier | None = None
    #: Downloads (:mod:`bot.telegram.handlers.downloads`), and their status messages and deliveries.
    downloads: DownloadService | None = None
    download_notifier: DownloadNotifier | None = None
    #: Chats upgraded, left or blocked (:mod:`bot.telegram.handlers.chats`).
    chat_faults: ChatFaults | None = None
    #: ``/cancel`` by the id's letter (``t``, ``d``):
    #: :func:`bot.telegram.handlers.cancel.add_canceller`.
    cancellers: dict[str, Canceller] = field(default_factory=dict)
    _startup: list[Hook] = field(default_factory=list)
    _shutdown: list[Hook] = field(default_factory=list)
    _stats: list[Callable[[], list[str]]] = field(default_factory=list)

    def add_startup(self, hook: Hook) -> None:
        """Run ``await hook(app)`` once the bot is connected (``post_init``), in order added."""
        self._startup.append(hook)

    def add_shutdown(self, hook: Hook) -> None:
        """Run ``await hook(app)`` when the bot stops (``post_stop``), in reverse order added."""
        self._shutdown.append(hook)

    def add_stats(self, lines: Callable[[], list[str]]) -> None:
        """Contribute lines to ``/stats`` (called on a worker thread; may read the database)."""
        self._stats.append(lines)

    def stats_lines(self) -> list[str]:
        return [line for provider in self._stats for line in provider()]

    async def run_startup(self, app: Application) -> None:
        for hook in self._startup:
            await hook(app)

    async def run_shutdown(self, app: Application) -> None:
        for hook in reversed(self._shutdown):
            await hook(app)


def required(feature: T | None) -> T:
    """A feature's object where its own handlers run (``required(services.downloads)``): they
    are registered together, so None is a wiring mistake, said as one."""
    if feature is None:
        raise RuntimeError("a handler ran without its feature registered")
    return feature


def services_of(context: Any) -> Services:
    """The :class:`Services` from a handler's ``context``."""
    return context.application.bot_data["services"]
