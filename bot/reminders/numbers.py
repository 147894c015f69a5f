"""Numbers as people write them in a time phrase: ``5``, ``2.5``, ``five``, ``twenty-five``,
``an``, ``十五``, ``两``, ``二十``.

Chinese numerals cover 零 to 九百九十九 (two hundred minutes is the most a person says); ``两``
is two. ``半`` (half), ``一刻`` and ``三刻`` belong to durations and times of day, not here.
"""

from __future__ import annotations

from bot.reminders.tokens import Kind, Tokens

EN_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
#: Spelled-out numbers back from values, for rendering schedules in words.
EN_WORDS = {value: word for word, value in {**EN_UNITS, **EN_TENS}.items()}

ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
ZH_SCALES = {"十": 10, "百": 100}


def take_digits(t: Tokens, i: int, *, decimal: bool = False) -> tuple[float, int] | None:
    """ASCII digits at ``i`` (``2.5`` too when ``decimal``), and the index after them."""
    value = t.num(i)
    if value is None:
        return None
    if (
        decimal
        and t.text(i + 1) == "."
        and t.joined(i + 1)
        and t.kind(i + 2) == Kind.NUM
        and t.joined(i + 2)
        and len(t.text(i + 2)) <= 6
        and t.text(i + 3) != "."
    ):
        return float(f"{value}.{t.text(i + 2)}"), i + 3
    return float(value), i + 1


def take_english(t: Tokens, i: int) -> tuple[int, int] | None:
    """``five``, ``twenty five``, ``twenty-five``: the value and the index after it."""
    word = t.text(i)
    if word in EN_UNITS:
        return EN_UNITS[word], i + 1
    if word in EN_TENS:
        value, j = EN_TENS[word], i + 1
        k = j + 1 if t.text(j) == "-" and t.joined(j) else j
        unit = t.text(k)
        if unit in EN_UNITS and 0 < EN_UNITS[unit] < 10:
            return value + EN_UNITS[unit], k + 1
        return value, j
    return None


def take_chinese(t: Tokens, i: int) -> tuple[int, int] | None:
    """``十五``, ``二十``, ``一百零五``, ``两``: the value and the index after it (joined chars)."""
    total, current, j, seen = 0, None, i, False
    while j < t.n and (j == i or t.joined(j)):
        ch = t.text(j)
        if ch in ("零", "〇") and total:
            pass  # 一百零五: a place holder
        elif ch in ZH_DIGITS:
            if current is not None:
                break  # 一二 is not a number (it is 每周一二, a list of days)
            current = ZH_DIGITS[ch]
        elif ch in ZH_SCALES:
            total += (1 if current is None else current) * ZH_SCALES[ch]
            current = None
        else:
            break
        seen = True
        j += 1
    if not seen:
        return None
    return total + (current or 0), j


def take_number(t: Tokens, i: int, *, decimal: bool = True) -> tuple[float, int] | None:
    """Any of the above at ``i``."""
    return take_digits(t, i, decimal=decimal) or take_english(t, i) or take_chinese(t, i)
