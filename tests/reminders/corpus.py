"""The phrase corpus (``corpus.txt``) read as rows: used by the table test and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

CORPUS = Path(__file__).with_name("corpus.txt")


@dataclass(frozen=True)
class Row:
    """One phrase with its fixed ``now`` and zone, and what it must give."""

    line: int
    phrase: str
    now: datetime
    zone: ZoneInfo
    first: str | None = None
    second: str | None = None
    text: str | None = None
    problem: str | None = None


def rows() -> list[Row]:
    found, now, zone = [], None, None
    for number, raw in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("@"):
            fields = dict(part.split("=", 1) for part in line[1:].split())
            zone = ZoneInfo(fields["zone"])
            now = datetime.fromisoformat(fields["now"]).replace(tzinfo=zone)
            continue
        cells = [cell.strip() for cell in line.split(" | ")]
        if len(cells) == 2 and cells[1].startswith("!"):
            found.append(Row(number, cells[0], now, zone, problem=cells[1][1:]))
        else:
            phrase, first, second, text = cells if len(cells) == 4 else (*cells, "")
            found.append(Row(number, phrase, now, zone, first, second, text))
    return found
