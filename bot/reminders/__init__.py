"""Timers and reminders without Telegram: parsing, recurrence, the store and the scheduler service.

Import-light on purpose: ``bot.storage.open_database`` imports this package so that the tables in
:mod:`bot.reminders.store` register; the service (APScheduler) and ``dateparser`` load only when
used.
"""

from bot.reminders import store  # noqa: F401  (registers the tables)
