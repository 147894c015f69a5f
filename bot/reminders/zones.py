"""A time zone said in the phrase: ``UTC``, ``GMT``, ``GMT+8``, ``UTC-5``, ``Europe/London``,
``CET``, ``北京时间``; it overrides the person's own zone for this reminder.

Only what is certain is read. IANA names are checked against the zone database; ``GMT+8`` is the
fixed zone ``Etc/GMT-8`` (whole hours only: the database has no other fixed offsets); a few
abbreviations that mean one region (``PST`` = America/Los_Angeles, ``JST`` = Asia/Tokyo) are
mapped, and those that mean several (``CST``: China or US Central? ``IST``, ``BST``) are refused
with their readings, never guessed.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.reminders.errors import Problem, ReminderInputError
from bot.reminders.tokens import Kind, Tokens

#: Abbreviations that name one region; the region keeps its own DST (PST in July is PDT).
REGIONS = {
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "mdt": "America/Denver",
    "cdt": "America/Chicago",
    "edt": "America/New_York",
    "et": "America/New_York",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    "hkt": "Asia/Hong_Kong",
    "sgt": "Asia/Singapore",
    "aest": "Australia/Sydney",
    "aedt": "Australia/Sydney",
    "cest": "CET",
    "eest": "EET",
    "msk": "Europe/Moscow",
    "nzst": "Pacific/Auckland",
    "nzdt": "Pacific/Auckland",
}
#: Abbreviations in the zone database itself (fixed or with DST), accepted as they are.
DATABASE = {
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "cet": "CET",
    "eet": "EET",
    "wet": "WET",
    "met": "MET",
    "est": "EST",
    "mst": "MST",
    "hst": "HST",
}
AMBIGUOUS = {
    "cst": ("Asia/Shanghai", "America/Chicago"),
    "ist": ("Asia/Kolkata", "Europe/Dublin"),
    "bst": ("Europe/London", "Asia/Dhaka"),
    "ast": ("America/Halifax", "Asia/Riyadh"),
}
ZH_NAMES = (
    ("北京时间", "Asia/Shanghai"),
    ("北京時間", "Asia/Shanghai"),
    ("东京时间", "Asia/Tokyo"),
    ("伦敦时间", "Europe/London"),
)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _offset(t: Tokens, i: int, original: str) -> tuple[ZoneInfo, int] | None:
    """``GMT+8``, ``UTC-05:00``, ``UTC+5:30`` (refused: no whole hour)."""
    sign = t.text(i)
    if sign not in ("+", "-") or t.kind(i + 1) != Kind.NUM or not t.joined(i + 1):
        return None
    digits = t.text(i + 1)
    hours, minutes, j = int(digits), 0, i + 2
    if len(digits) == 4:
        hours, minutes = int(digits[:2]), int(digits[2:])
    elif t.text(j) == ":" and t.joined(j) and t.kind(j + 1) == Kind.NUM and t.joined(j + 1):
        minutes, j = int(t.text(j + 1)), j + 2
    part = t.span(i - 1, j, original)
    if minutes or hours > 14:
        raise ReminderInputError(Problem.UNKNOWN_ZONE, part=part)
    if hours == 0:
        return ZoneInfo("UTC"), j
    # The database's Etc zones have the POSIX sign: GMT+8 is Etc/GMT-8.
    return ZoneInfo(f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"), j


def take_zone(t: Tokens, i: int, original: str) -> tuple[ZoneInfo, int] | None:
    """A zone at ``i`` and the index after it, or None; raises for an ambiguous abbreviation."""
    if t.kind(i) == Kind.CJK:
        for word, name in ZH_NAMES:
            if (end := t.cjk(i, word)) is not None:
                return ZoneInfo(name), end
        return None
    if t.kind(i) != Kind.WORD:
        return None
    word = t.text(i)
    if word in ("utc", "gmt") and (found := _offset(t, i + 1, original)) is not None:
        return found
    if t.text(i + 1) == "/" and t.joined(i + 1) and t.kind(i + 2) == Kind.WORD and t.joined(i + 2):
        j = i + 3
        while t.text(j) == "/" and t.joined(j) and t.kind(j + 1) == Kind.WORD and t.joined(j + 1):
            j += 2
        name = t.span(i, j, original)
        zone = _zone(name) or _zone("/".join(p.capitalize() for p in name.split("/")))
        if zone is None:
            raise ReminderInputError(Problem.UNKNOWN_ZONE, part=name)
        return zone, j
    if word in DATABASE:
        return ZoneInfo(DATABASE[word]), i + 1
    if word in REGIONS:
        return ZoneInfo(REGIONS[word]), i + 1
    if word in AMBIGUOUS:
        raise ReminderInputError(
            Problem.AMBIGUOUS_ZONE, part=t.span(i, i + 1, original), readings=AMBIGUOUS[word]
        )
    return None


def zone_label(zone: ZoneInfo) -> str:
    """How a zone is shown: its key, with ``Etc/GMT-8`` shown as people write it, ``GMT+8``."""
    key = zone.key
    if key.startswith("Etc/GMT") and len(key) > 7:
        sign = "+" if key[7] == "-" else "-"
        return f"GMT{sign}{key[8:]}"
    return key
