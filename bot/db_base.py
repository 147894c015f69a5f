"""The declarative base every table of Errand derives from, alone in its module.

Features declare their tables on :class:`Base` in their own package (``bot/reminders/store.py``,
``bot/downloads/jobs.py``, …) and import only this module, so a table module never imports the
database plumbing (:mod:`bot.storage`) or the list of all tables (:mod:`bot.tables`), and no
import circle forms between them.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for all of Errand's tables; ``Base.metadata`` collects them."""
