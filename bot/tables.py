"""Every table Errand keeps: the one place that lists the modules declaring them.

A table registers itself by deriving from :class:`bot.db_base.Base` (SQLAlchemy's declarative
registry); it is known once its module is imported. This module imports each of them, so
:func:`all_tables` returns complete metadata for whoever creates or migrates the schema
(:mod:`bot.schema`, :mod:`bot.storage`, a migration tool). A feature that adds a table module
adds one import line here. The dependency points one way: storage/schema → tables → features →
db_base.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import bot.chats.store
import bot.downloads.jobs
import bot.i18n.store
import bot.inbox
import bot.reminders.store
import bot.telegram.shared_pace
from bot.db_base import Base

#: The modules whose import registers tables on :class:`~bot.db_base.Base`.
TABLE_MODULES = (
    bot.chats.store,
    bot.downloads.jobs,
    bot.i18n.store,
    bot.inbox,
    bot.reminders.store,
    bot.telegram.shared_pace,
)


def all_tables() -> MetaData:
    """The metadata of every table of :data:`TABLE_MODULES` (all imported by now)."""
    return Base.metadata
