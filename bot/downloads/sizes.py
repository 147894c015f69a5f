"""Human-readable sizes, speeds and durations, shared by the CLI progress bar and chat messages."""

from __future__ import annotations

_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(n: float | None) -> str:
    """``1536`` → ``1.5 KB`` (binary multiples, as file managers show them); None → ``?``."""
    if n is None:
        return "?"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_speed(bytes_per_second: float | None) -> str:
    return "?" if bytes_per_second is None else f"{human_size(bytes_per_second)}/s"


def human_duration(seconds: float | None) -> str:
    """``3725`` → ``1 h 2 min``; ``42`` → ``42 s``; None → ``?``."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    h, rest = divmod(s, 3600)
    return f"{h} h {rest // 60} min" if rest // 60 else f"{h} h"
