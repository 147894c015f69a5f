"""Timers and reminders without Telegram: parsing, recurrence, the store and the scheduler service.

Import-light on purpose: :mod:`bot.tables` imports :mod:`bot.reminders.store` so that its tables
register, which runs this file; the service (APScheduler) loads only when used.
The time grammar is its own (see docs/time-phrases.md); no general date library decides a time.
"""
