"""Human-readable sizes, speeds and durations: one wording for the CLI, downloads and reminders."""

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
    """The two largest units: ``3725`` → ``1 h 2 min``, ``42`` → ``42 s``, ``93600`` → ``1 d 2 h``;
    None → ``?``."""
    if seconds is None:
        return "?"
    left = max(0, round(seconds))
    parts = []
    for unit, name in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if left >= unit or (unit == 1 and not parts):
            parts.append(f"{left // unit} {name}")
            left %= unit
    return " ".join([p for p in parts if not p.startswith("0 ") or len(parts) == 1][:2])
