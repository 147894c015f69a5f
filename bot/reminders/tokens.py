"""What the time grammar reads: the typed text cut into tokens that keep their place in it.

People type full-width digits and colons from a Chinese keyboard (``１０：３０``), words without
spaces (``明天早上9点开会``), and English with or without spaces (``6pm``, ``6 p.m.``). The text is
first mapped character for character (full-width ASCII to ASCII, the ideographic space to a
space) so that every offset still points into what was typed, and the reminder's text can be cut
from the original. Then it is split into tokens: a run of ASCII letters, a run of ASCII digits,
one CJK character, or one other character; each knows whether a space came before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = ord(" ")
_TOKEN = re.compile(r"[A-Za-z_]+|[0-9]+|\S", re.ASCII)


class Kind:
    """Token kinds (plain constants: they are compared in the hot path)."""

    WORD = "word"
    NUM = "num"
    CJK = "cjk"
    MARK = "mark"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text`` lower-cased, its kind, where it is, and whether a space precedes it."""

    text: str
    kind: str
    start: int
    end: int
    spaced: bool


def normalise(text: str) -> str:
    """Full-width ASCII and the ideographic space as plain ASCII; same length as ``text``."""
    return text.translate(_FULL_WIDTH)


def has_foreign_digits(text: str) -> bool:
    """Digits that are not 0-9 after normalising (Arabic-Indic, Devanagari…): refused, not read."""
    return any(ch.isdigit() and not ("0" <= ch <= "9") for ch in text)


def _kind(ch: str) -> str:
    if ch.isascii():
        if ch.isdigit():
            return Kind.NUM
        if ch.isalpha() or ch == "_":
            return Kind.WORD
        return Kind.MARK
    if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff":
        return Kind.CJK
    return Kind.MARK


def tokenize(text: str) -> list[Token]:
    """The tokens of an already :func:`normalise`\\ d text."""
    tokens = []
    previous_end = 0
    for match in _TOKEN.finditer(text):
        piece = match.group()
        tokens.append(
            Token(
                piece.lower(),
                _kind(piece[0]),
                match.start(),
                match.end(),
                match.start() > previous_end,
            )
        )
        previous_end = match.end()
    return tokens


class Tokens:
    """The token list with the look-ups every grammar module needs."""

    __slots__ = ("items", "n")

    def __init__(self, items: list[Token]) -> None:
        self.items = items
        self.n = len(items)

    def text(self, i: int) -> str:
        """The lower-cased token ``i``, or "" past the end."""
        return self.items[i].text if 0 <= i < self.n else ""

    def kind(self, i: int) -> str:
        return self.items[i].kind if 0 <= i < self.n else ""

    def joined(self, i: int) -> bool:
        """Token ``i`` follows the previous one without a space (``6pm``, ``18:30``)."""
        return 0 < i < self.n and not self.items[i].spaced

    def num(self, i: int) -> int | None:
        """Token ``i`` as an int when it is ASCII digits (at most 6 of them)."""
        if 0 <= i < self.n and self.items[i].kind == Kind.NUM and len(self.items[i].text) <= 6:
            return int(self.items[i].text)
        return None

    def is_(self, i: int, *words: str) -> bool:
        return 0 <= i < self.n and self.items[i].text in words

    def seq(self, i: int, *words: str) -> int | None:
        """The index after ``words`` when they follow one another from ``i``; else None."""
        for offset, word in enumerate(words):
            if self.text(i + offset) != word:
                return None
        return i + len(words)

    def cjk(self, i: int, phrase: str) -> int | None:
        """The index after the CJK ``phrase`` (one token per character) starting at ``i``."""
        for offset, ch in enumerate(phrase):
            if self.text(i + offset) != ch or (offset and self.items[i + offset].spaced):
                return None
        return i + len(phrase)

    def cjk_any(self, i: int, phrases: Iterable[str]) -> tuple[str, int] | None:
        """The first of ``phrases`` (longest first, please) at ``i`` and the index after it."""
        for phrase in phrases:
            end = self.cjk(i, phrase)
            if end is not None:
                return phrase, end
        return None

    def span(self, i: int, j: int, original: str) -> str:
        """The original text of tokens ``i`` up to ``j`` (exclusive)."""
        if i >= j:
            return ""
        return original[self.items[i].start : self.items[j - 1].end]
