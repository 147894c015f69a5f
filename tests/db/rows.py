"""Rows for every table Errand declares, whatever its shape: what upgrade and copy tests keep."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import sqlalchemy as sa

from bot.tables import all_tables


def value_for(column: sa.Column, n: int):
    """A plausible value for ``column`` so that every table can hold a row, whatever its shape."""
    if isinstance(column.type, sa.Enum):
        return list(column.type.enum_class)[0] if column.type.enum_class else column.type.enums[0]
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return n % 2 == 0
    if kind is int:
        return n
    if kind is float:
        return n + 0.5
    if kind is datetime:
        return datetime(2026, 1, 1, 9, n % 60, tzinfo=UTC).replace(tzinfo=None)
    if kind is date:
        return date(2026, 1, 1 + n % 28)
    if kind is time:
        return time(9, n % 60)
    if kind is bytes:
        return b"x" * n
    if kind in (dict, list):
        return {"n": n} if kind is dict else [n]
    if kind is uuid.UUID:
        return uuid.UUID(int=n)
    if kind is Decimal:
        return Decimal(n)
    return f"v{n}"


def fill_every_table(engine: sa.Engine, ids: tuple[int, ...] = (1, 2)) -> None:
    """A row per id in each of today's tables, parents before children (foreign keys honoured)."""
    with engine.begin() as conn:
        for table in all_tables().sorted_tables:
            for n in ids:
                row = {}
                for column in table.columns:
                    fks = list(column.foreign_keys)
                    # a child points at its parent's row n, filled just before with the same rule
                    target = fks[0].column if fks else column
                    row[column.name] = value_for(target, n)
                conn.execute(table.insert().values(**row))
