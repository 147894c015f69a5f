"""Reminder times: read ``WHEN TEXT`` (or ``TEXT WHEN``) as typed after ``/remind``.

The phrase is cut into tokens (:mod:`bot.reminders.tokens`), then the *when* is read from its
start, from its end, or both (``tomorrow buy milk at 5pm``), as a sequence of parts, each said
at most once: a duration (``in 10 minutes``, ``10分钟后``), a day (:mod:`~bot.reminders.dates`), a
time of day (:mod:`~bot.reminders.times_of_day`), a zone (:mod:`~bot.reminders.zones`), a repeat and
its end (:mod:`~bot.reminders.repeats`). What lies between is the reminder's text.

Certainty over coverage: a part must end at a word boundary (``12:40!1mo`` is not 12:40), a
second time left inside the text is refused rather than ignored, and no general date library
decides anything. Every refusal is a :class:`~bot.reminders.errors.ReminderInputError` with a
code; the chat layer words it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.reminders.dates import MONTH_WORDS, WEEKDAY_WORDS, DayRef, Roll, resolve_day, take_day
from bot.reminders.duration import EN_UNIT_WORDS, Span, take_span
from bot.reminders.errors import Part, Problem, ReminderInputError
from bot.reminders.numbers import EN_TENS, EN_UNITS
from bot.reminders.recurrence import MAX_COUNT, Recurrence, Unit
from bot.reminders.repeat_phrase import phrase
from bot.reminders.repeats import Repeat, take_end, take_repeat
from bot.reminders.times_of_day import DEFAULT_TIME, TimeOfDay, take_time_of_day
from bot.reminders.tokens import Kind, Tokens, has_foreign_digits, normalise, tokenize
from bot.reminders.zones import AMBIGUOUS, DATABASE, REGIONS, take_zone

#: How far from the end a *when* may start (tokens); keeps parsing fast on long texts.
SUFFIX_REACH = 30
_LEADS_EN = (("remind", "me", "to"), ("remind", "me"), ("me", "to"), ("me",))
_LEADS_ZH = ("提醒我", "叫我", "记得")
_AFTER_ZH = ("以后", "之后", "後", "后")
_EDGE = " ,，:：;；-–—、.。"
#: Sentence ends a *when* may touch (``at 5pm!``), unlike ``12:40!1mo``.
_STOPS = (".", "!", "?", "。", "！", "？")
#: The characters a Chinese part can begin with (numerals, days, parts of the day, 每, 直到…).
CJK_STARTERS = frozenset(
    "零〇一二两兩三四五六七八九十百半今明后後大昨前下这這本周週星礼禮每工个"
    "凌早清上中午傍晚夜北东伦直截共重"
)
#: The English words a part can begin with; any other word is text, without trying every parser.
STARTERS = frozenset(
    set(EN_UNIT_WORDS)
    | set(WEEKDAY_WORDS)
    | set(MONTH_WORDS)
    | set(EN_UNITS)
    | set(EN_TENS)
    | set(DATABASE)
    | set(REGIONS)
    | set(AMBIGUOUS)
    | {name + "s" for name in WEEKDAY_WORDS}
    | {
        "in",
        "on",
        "at",
        "by",
        "a",
        "an",
        "half",
        "the",
        "this",
        "next",
        "coming",
        "today",
        "tod",
        "tomorrow",
        "tmr",
        "tmrw",
        "tomorow",
        "day",
        "yesterday",
        "noon",
        "midday",
        "midnight",
        "tonight",
        "eod",
        "end",
        "morning",
        "afternoon",
        "evening",
        "night",
        "every",
        "each",
        "daily",
        "hourly",
        "weekly",
        "monthly",
        "yearly",
        "annually",
        "weekdays",
        "weekends",
        "cron",
        "until",
        "till",
        "til",
        "through",
        "for",
        "utc",
        "gmt",
    }
)


@dataclass(frozen=True)
class Plan:
    """When a reminder first rings (aware UTC), how it repeats, what it says, and in which zone
    it was understood (the phrase's own zone, or the person's)."""

    due: datetime
    recurrence: Recurrence | None
    text: str
    zone: ZoneInfo | None = None
    zone_from_phrase: bool = False


@dataclass
class _Parts:
    """The parts of one *when*, as found."""

    offset: Span | None = None
    day: DayRef | None = None
    time: TimeOfDay | None = None
    zone: ZoneInfo | None = None
    repeat: Repeat | None = None
    until: DayRef | None = None
    count: int | None = None

    def merge(self, other: _Parts) -> None:
        for name in ("offset", "day", "time", "zone", "repeat", "until", "count"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is None:
                continue
            if mine is not None:
                raise ReminderInputError(Problem.CONFLICT, part=Part(name))
            setattr(self, name, theirs)


class _Reader:
    """Reads parts from one position; knows the phrase, the tokens and today."""

    def __init__(self, original: str, tokens: Tokens, local: datetime) -> None:
        self.original, self.t, self.local = original, tokens, local

    def boundary(self, j: int) -> bool:
        """A part may end before token ``j``: the end, a space, CJK on either side, a comma."""
        t = self.t
        return (
            j >= t.n
            or t.items[j].spaced
            or t.kind(j) == Kind.CJK
            or t.kind(j - 1) == Kind.CJK
            or t.text(j) in (",", "，", "、", ":", "：")
            or (t.text(j) in _STOPS and (j + 1 >= t.n or t.items[j + 1].spaced))
        )

    def part(self, i: int, parts: _Parts) -> int | None:
        """Read one part at ``i`` into ``parts``; the index after it, or None."""
        t, original = self.t, self.original
        word = t.text(i)
        kind = t.kind(i)
        if (
            (kind == Kind.WORD and word not in STARTERS and t.text(i + 1) != "/")
            or (kind == Kind.CJK and word not in CJK_STARTERS)
            or kind == Kind.MARK
        ):
            return None  # plain text (an Area/City zone is the one open-ended word)
        # in 10 minutes / in 3 days
        if word == "in" and t.text(i + 1) not in ("the",):
            found = take_span(t, i + 1)
            if found is not None:
                return self._set(parts, "offset", found[0], found[1])
            return None
        # 5 minutes ago / 10 minutes later / 10分钟后
        found = take_span(t, i)
        if found is not None:
            span, j = found
            if t.text(j) == "ago" or t.cjk(j, "前") is not None or t.cjk(j, "以前") is not None:
                raise ReminderInputError(Problem.IN_THE_PAST, when=t.span(i, j + 1, original))
            if t.text(j) == "later":
                return self._set(parts, "offset", span, j + 1)
            if (end := t.seq(j, "from", "now")) is not None:
                return self._set(parts, "offset", span, end)
            if (after := t.cjk_any(j, _AFTER_ZH)) is not None:
                return self._set(parts, "offset", span, after[1])
        if parts.repeat is not None and (ending := take_end(t, i)) is not None:
            if ending[0] == "count":
                return self._set(parts, "count", ending[1], ending[2])
            day = take_day(t, ending[1], self.local.date(), original)
            if day is None:
                raise ReminderInputError(
                    Problem.NOT_UNDERSTOOD, part=t.span(i, min(i + 3, t.n), original)
                )
            return self._set(parts, "until", day[0], day[1])
        if (repeat := take_repeat(t, i, original)) is not None:
            return self._set(parts, "repeat", repeat[0], repeat[1])
        lead = i + 1 if word in ("on", "at", "by") else i
        if word == "at":
            found_time = take_time_of_day(t, lead, original, bare_ok=True)
            if found_time is not None:
                return self._set(parts, "time", found_time[0], found_time[1])
            if (zone := take_zone(t, lead, original)) is None:
                return None
        if (day := take_day(t, lead, self.local.date(), original)) is not None:
            return self._set(parts, "day", day[0], day[1])
        if word == "on":
            return None
        if (found_time := take_time_of_day(t, i, original)) is not None:
            return self._set(parts, "time", found_time[0], found_time[1])
        if (zone := take_zone(t, i, original)) is not None:
            return self._set(parts, "zone", zone[0], zone[1])
        return None

    def _set(self, parts: _Parts, name: str, value: object, j: int) -> int | None:
        if not self.boundary(j):
            return None
        if getattr(parts, name) is not None:
            raise ReminderInputError(Problem.CONFLICT, part=Part(name))
        setattr(parts, name, value)
        return j

    def run(self, i: int, stop: int) -> tuple[_Parts, int]:
        """Parts from ``i`` as far as they go (not past ``stop``)."""
        parts = _Parts()
        t = self.t
        while i < stop:
            j = self.part(i, parts)
            if j is None or j > stop:
                break
            i = j
            if (
                t.text(i) in (",", "，", "and")
                and i + 1 < stop
                and self.part(i + 1, _Parts()) is not None
            ):
                i += 1
        return parts, i


def _start(t: Tokens) -> int:
    for lead in _LEADS_EN:
        if (end := t.seq(0, *lead)) is not None and end < t.n:
            return end
    found = t.cjk_any(0, _LEADS_ZH)
    return found[1] if found else 0


def _word_start(t: Tokens, i: int) -> bool:
    return i == 0 or t.items[i].spaced or t.kind(i) == Kind.CJK or t.kind(i - 1) == Kind.CJK


def _is_empty(parts: _Parts) -> bool:
    return all(getattr(parts, n) is None for n in ("offset", "day", "time", "repeat"))


def _find(reader: _Reader) -> tuple[_Parts, int, int, ReminderInputError | None]:
    """The *when* at the start and/or the end: the parts, the text's token range, and the
    refusal met when trying to read a *when* at the end (raised unless a better one comes)."""
    t = reader.t
    begin = _start(t)
    last = t.n  # the end, before a closing "!" or "。"
    while last > begin and t.text(last - 1) in _STOPS:
        last -= 1
    head, head_end = reader.run(begin, last)
    if head_end == last:
        return head, head_end, head_end, None
    tail, tail_start = None, last
    first_error: ReminderInputError | None = None
    for s in range(max(head_end + 1, last - SUFFIX_REACH), last):
        if not _word_start(t, s):
            continue
        try:
            parts, end = reader.run(s, last)
        except ReminderInputError as error:
            first_error = first_error or error
            continue
        if end == last and not _is_empty(parts):
            tail, tail_start = parts, s
            break
    if tail is not None:
        head.merge(tail)
        first_error = None
    return head, head_end, tail_start, first_error


def _check_text(reader: _Reader, start: int, stop: int) -> None:
    """Refuse a time left inside the text (``tomorrow buy milk at 5pm for the 3pm train``)."""
    t = reader.t
    for i in range(start, stop):
        if not _word_start(t, i):
            continue
        probe = _Parts()
        try:
            j = reader.part(i, probe)
        except ReminderInputError:
            j = None
        if j is None:
            continue
        strong = (
            probe.offset is not None
            or probe.repeat is not None
            or (probe.time is not None and probe.time.named is None)
            or (probe.day is not None and t.kind(i) in (Kind.NUM, Kind.CJK))
        )
        if strong:
            raise ReminderInputError(Problem.TIME_IN_TEXT, part=t.span(i, j, reader.original))


def _check_bare_number(t: Tokens, original: str, start: int, stop: int) -> None:
    """``tomorrow 5 call mom``: a bare number beside the *when* is an hour not understood, not
    text; refused rather than rung at 09:00 with "5 call mom"."""
    for i in (start, stop - 1):
        if (
            start <= i < stop
            and t.kind(i) == Kind.NUM
            and len(t.text(i)) <= 2
            and not (t.kind(i + 1) in (Kind.WORD, Kind.CJK) and t.joined(i + 1))
        ):
            raise ReminderInputError(Problem.NOT_UNDERSTOOD, part=t.span(i, i + 1, original))


def parse_when(
    text: str, now: datetime, zone: ZoneInfo, min_interval: timedelta = timedelta(minutes=5)
) -> Plan:
    """Read ``WHEN TEXT`` relative to ``now`` (aware) for a person in ``zone``.

    Returns a :class:`Plan`; raises :class:`ReminderInputError` for anything not read with
    certainty.
    """
    normal = normalise(text)
    if not normal.strip():
        raise ReminderInputError(Problem.EMPTY)
    if has_foreign_digits(normal):
        raise ReminderInputError(Problem.FOREIGN_DIGITS)
    tokens = Tokens(tokenize(normal))
    # the phrase's zone decides what "today" is: look for it first
    parts_zone = _zone_anywhere(normal, tokens)
    effective = parts_zone or zone
    local = now.astimezone(effective)
    reader = _Reader(text, tokens, local)
    parts, text_start, text_stop, tail_error = _find(reader)
    if tail_error is not None:
        _check_text(reader, text_start, text_stop)
        raise tail_error
    if _is_empty(parts):
        raise ReminderInputError(Problem.NO_WHEN, text=text.strip()[:40])
    _check_text(reader, text_start, text_stop)
    if parts.time is None:
        _check_bare_number(tokens, text, text_start, text_stop)
    label = tokens.span(text_start, text_stop, text).strip(_EDGE)
    if label.lower().startswith("to ") and text_start > 0:
        label = label[3:]
    for lead in _LEADS_ZH:  # 10分钟后提醒我喝水
        if label.startswith(lead) and len(label) > len(lead):
            label = label[len(lead) :]
    if parts.zone is not None:
        effective = parts.zone
        local = now.astimezone(effective)
    if parts.repeat is not None:
        due, recurrence = _repeating(parts, now, local, effective, min_interval)
    else:
        if parts.until is not None or parts.count is not None:
            raise ReminderInputError(Problem.NOT_UNDERSTOOD, part="until")
        due, recurrence = _once(parts, now, local, effective), None
    if due <= now:
        raise ReminderInputError(Problem.IN_THE_PAST, when=due.astimezone(effective))
    return Plan(
        due=due.astimezone(UTC),
        recurrence=recurrence,
        text=label.strip(),
        zone=effective,
        zone_from_phrase=parts.zone is not None,
    )


def _zone_anywhere(normal: str, tokens: Tokens) -> ZoneInfo | None:
    for i in range(tokens.n):
        if tokens.kind(i) in (Kind.WORD, Kind.CJK) and _word_start(tokens, i):
            try:
                found = take_zone(tokens, i, normal)
            except ReminderInputError:
                continue
            if found is not None:
                return found[0]
    return None


def _once(parts: _Parts, now: datetime, local: datetime, zone: ZoneInfo) -> datetime:
    tod = parts.time
    if parts.offset is not None:
        if parts.day is not None:
            raise ReminderInputError(Problem.MISMATCH, first=Part.OFFSET, second=Part.DAY)
        if tod is None:
            return parts.offset.after(local)
        if not parts.offset.calendar_only:
            raise ReminderInputError(Problem.MISMATCH, first=Part.OFFSET, second=Part.TIME)
        day = parts.offset.after(local).date()
        return datetime.combine(day, tod.at, tzinfo=zone)
    day_ref = parts.day
    if tod is not None and tod.day is not None:
        said = local.date() + timedelta(days=tod.day)
        if day_ref is not None and day_ref.day != said:
            raise ReminderInputError(Problem.MISMATCH, first=Part.DAY, second=Part.TIME)
        if day_ref is None:
            day_ref = DayRef(said, Roll.NONE, "")
    if day_ref is None:
        assert tod is not None
        due = datetime.combine(local.date(), tod.at, tzinfo=zone)
        if due <= now:
            due = datetime.combine(local.date() + timedelta(days=1), tod.at, tzinfo=zone)
        return due
    if tod is not None and tod.named == "midnight":
        raise ReminderInputError(
            Problem.AMBIGUOUS_MIDNIGHT, part=f"{day_ref.part} midnight".strip()
        )
    return resolve_day(day_ref, tod.at if tod else DEFAULT_TIME, now, zone)


def _repeating(
    parts: _Parts, now: datetime, local: datetime, zone: ZoneInfo, min_interval: timedelta
) -> tuple[datetime, Recurrence]:
    repeat = parts.repeat
    assert repeat is not None
    rec = repeat.recurrence
    if parts.offset is not None:
        raise ReminderInputError(Problem.MISMATCH, first=Part.OFFSET, second=Part.REPEAT)
    if rec.unit is Unit.INTERVAL:
        if parts.time is not None or parts.day is not None:
            raise ReminderInputError(Problem.MISMATCH, first=Part.REPEAT, second=Part.TIME)
        if rec.seconds < min_interval.total_seconds():
            raise ReminderInputError(
                Problem.REPEAT_TOO_OFTEN, minimum=min_interval, part=phrase(rec)
            )
        first = now + timedelta(seconds=rec.seconds)
        rec = replace(rec, first=first.timestamp())
    elif rec.unit is Unit.CRON:
        if parts.time is not None or parts.day is not None:
            raise ReminderInputError(Problem.MISMATCH, first=Part.REPEAT, second=Part.TIME)
        found = rec.next_after(now, zone)
        if found is None:
            raise ReminderInputError(Problem.BAD_CRON, part=rec.cron, reason="never")
        first = found
        gap: timedelta | None = None
        current = first
        for _ in range(6):
            following = rec.next_after(current, zone)
            if following is None:
                break
            gap = following - current if gap is None else min(gap, following - current)
            current = following
        if gap is not None and gap < min_interval:
            raise ReminderInputError(Problem.REPEAT_TOO_OFTEN, minimum=min_interval, part=rec.cron)
        rec = replace(rec, first=first.timestamp())
    else:
        at = parts.time.at if parts.time is not None else (repeat.at or DEFAULT_TIME)
        if parts.time is not None and parts.time.named == "midnight":
            at = time(0, 0)
        start = local
        if parts.day is not None:
            start_day = (
                resolve_day(parts.day, time(0, 0), now, zone)
                if parts.day.day > local.date()
                else local
            )
            start = max(start_day, local)
        rec = replace(rec, at=at)
        if repeat.needs_day:
            day = start.date()
            if rec.unit is Unit.WEEK:
                rec = replace(rec, weekdays=(day.weekday(),))
            elif rec.unit is Unit.MONTH:
                rec = replace(rec, monthday=day.day)
            elif rec.unit is Unit.YEAR:
                rec = replace(rec, month=day.month, monthday=day.day)
        found = replace(rec, every=1).next_after(
            max(now, start.astimezone(UTC) - timedelta(microseconds=1)), zone
        )
        if found is None:
            raise ReminderInputError(Problem.REPEAT_NOT_UNDERSTOOD, part=phrase(rec))
        first = found
        rec = replace(rec, first=first.timestamp())
    if parts.until is not None:
        until = parts.until.day
        if until < first.astimezone(zone).date():
            raise ReminderInputError(Problem.REPEAT_ENDS_BEFORE_START, until=until)
        rec = replace(rec, until=until)
    if parts.count is not None:
        if not 1 <= parts.count <= MAX_COUNT:
            raise ReminderInputError(Problem.NOT_UNDERSTOOD, part=f"{parts.count} times")
        rec = replace(rec, count=parts.count)
    if rec.every == 1 and rec.count is None:
        rec = replace(rec, first=None)  # only "every 2 …" and "for N times" count from the first
    return first, rec
