"""Timers and reminders without Telegram: parsing, recurrence, the store and the scheduler service.

Import-light on purpose: ``bot.storage.open_database`` imports this package so that the tables in
:mod:`bot.reminders.store` register; the service (APScheduler) loads only when used.
The time grammar is its own (see docs/time-phrases.md); no general date library decides a time.
"""

from bot.reminders import store  # noqa: F401  (registers the tables)
