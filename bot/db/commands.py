"""``errandbot db upgrade`` and ``errandbot db copy SOURCE TARGET``: the database by hand.

Start-up upgrades by itself; ``db upgrade`` is for doing it before a rollout (one process, while
the old ones still run on the old code where the migration allows it) and for seeing what it did.
Both print one line per outcome and return 0 on success, 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parser is built for every command: import nothing heavy here
    from bot.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser(
        "db", help="upgrade the database, or copy it to another (SQLite → PostgreSQL)"
    )
    commands = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    commands.add_parser("upgrade", help="apply pending migrations to DATABASE_URL's database")
    copy = commands.add_parser(
        "copy", help="copy every Errand table from SOURCE to TARGET, ids kept"
    )
    copy.add_argument("source", help="SQLAlchemy URL, e.g. sqlite:////srv/errand/data/errand.db")
    copy.add_argument(
        "target", help="SQLAlchemy URL, e.g. postgresql+psycopg://errand:PW@db/errand"
    )
    copy.add_argument(
        "--replace",
        action="store_true",
        help="empty Errand's tables in TARGET first instead of refusing rows there",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from bot.config import prepare_dirs
    from bot.db.url import shown
    from bot.dbfile import DamagedDatabase
    from bot.schema import SchemaError

    try:
        if args.db_command == "upgrade":
            prepare_dirs(settings)  # DATA_DIR, where a SQLite database goes
            return _upgrade(settings.db_url)
        from bot.db.copy import CopyRefused, copy_database

        try:
            report = copy_database(args.source, args.target, replace=args.replace)
        except CopyRefused as exc:
            print(f"errandbot: not copied: {exc}")
            return 1
        for table, rows in report.rows.items():
            print(f"  {table}: {rows} rows")
        if report.left_alone:
            print(f"  not Errand's, not copied: {', '.join(report.left_alone)}")
        print(f"copied to {shown(args.target)}: {sum(report.rows.values())} rows")
        return 0
    except (DamagedDatabase, SchemaError) as exc:
        print(f"errandbot: {exc}")
        return 1
    except DBAPIError as exc:  # refused connection, bad password: the driver's first line
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else exc.__class__.__name__
        print(f"errandbot: the database said: {reason} (check DATABASE_URL)")
        return 1


def _upgrade(url: str) -> int:
    from bot.db import migrate
    from bot.db.url import shown
    from bot.dbfile import check_existing
    from bot.storage import make_engine

    check_existing(url)
    engine = make_engine(url)
    try:
        found = migrate.upgrade(engine)
    finally:
        engine.dispose()
    where = shown(url)
    if not found.pending:
        print(f"{where}: at migration {found.head}, nothing to do")
    else:
        print(
            f"{where}: {found.revision or found.state.value} → {found.head} "
            f"({len(found.pending)} migration(s))"
        )
    return 0
