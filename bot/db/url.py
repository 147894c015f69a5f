"""``DATABASE_URL`` as SQLAlchemy needs it, and as it may be shown.

PostgreSQL URLs are often written ``postgres://`` or ``postgresql://`` (Heroku, Docker images,
``psql``); SQLAlchemy would take those to mean the psycopg2 driver, which Errand does not use.
They mean psycopg 3 here, the driver of the ``postgres`` extra. A password never reaches a log
line or ``errandbot check``: :func:`shown` masks it.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy.engine import URL, make_url

from bot.schema import SchemaError

POSTGRES_DRIVER = "postgresql+psycopg"


def normalize(url: str | URL) -> URL:
    """The SQLAlchemy URL for ``url``; raises :class:`SchemaError` when its driver is missing."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    if parsed.drivername == POSTGRES_DRIVER and importlib.util.find_spec("psycopg") is None:
        raise SchemaError(
            "DATABASE_URL is a PostgreSQL database but the psycopg driver is not "
            "installed: pip install 'errandbot[postgres]'"
        )
    return parsed


def shown(url: str | URL) -> str:
    """``url`` with its password masked, for logs and reports."""
    return make_url(url).render_as_string(hide_password=True)
