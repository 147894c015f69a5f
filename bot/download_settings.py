"""The settings ``errandbot download`` uses, read without pydantic when that gives the same answer.

:mod:`bot.config` validates every setting with pydantic-settings, whose import takes about 0.2 s:
more than the rest of the command's start-up together, and on a short transfer the most visible
part of it (issue #12: 64 MiB from a server that throttles each connection takes 5.1 s with
aria2c, which starts in 0.03 s). A download reads 16 of the settings.

:func:`read_download_settings` reads those from the environment and ``.env`` as
:class:`bot.config.Settings` does (names in any case, the environment over the file, an empty
value meaning the default), but answers only when it can vouch that the full check would accept
the configuration and read the same values: no setting other than these has a value, no name is
unknown or a near miss of a setting, and every value is written plainly (digits, ``true``/``false``,
CIDRs, a path). Otherwise it returns ``None`` and the caller runs the full check, which then either
says what is wrong in its usual words or accepts what this reader was unsure of. So the answer
never differs; only its cost does.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot import settings_words

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Every setting's name: :class:`bot.config.Settings`' fields, upper-cased (a test keeps the two
#: equal). Needed to tell a near miss in the environment, or another setting that has a value.
SETTING_NAMES = frozenset(
    {
        "BOT_TOKEN",
        "TELEGRAM_API_URL",
        "TELEGRAM_LOCAL_MODE",
        "ALLOWED_USERS",
        "ADMIN_USERS",
        "LOG_LEVEL",
        "DATA_DIR",
        "DOWNLOAD_DIR",
        "DATABASE_URL",
        "RUN_WORKER",
        "DOWNLOAD_ALLOW_NETWORKS",
        "DOWNLOAD_CONNECTIONS",
        "DOWNLOAD_READ_TIMEOUT",
        "DOWNLOAD_MAX_RETRIES",
        "MAX_FILE_MB",
        "MAX_UPLOAD_MB",
        "MAX_ACTIVE_DOWNLOADS",
        "MAX_ACTIVE_PER_USER",
        "DAILY_QUOTA_MB",
        "DISK_RESERVE_MB",
        "PROGRESS_INTERVAL",
        "RETENTION_HOURS",
        "PUBLIC_BASE_URL",
        "DOWNLOAD_CONNECT_TIMEOUT",
        "DOWNLOAD_PROBE_TIMEOUT",
        "DOWNLOAD_MIN_SPEED_KIB",
        "DOWNLOAD_MIN_SPEED_WINDOW",
        "DOWNLOAD_TIME_LIMIT_MINUTES",
        "DOWNLOAD_CA_BUNDLE",
        "MEDIA_EXTRACT",
        "MEDIA_MAX_HEIGHT",
        "MEDIA_PLAYLIST_MAX",
        "MEDIA_EXTRACT_TIMEOUT",
        "MEDIA_CHOICE_WAIT",
        "DEFAULT_TZ",
        "MISSED_GRACE_HOURS",
        "MAX_PENDING_PER_USER",
        "MAX_DURATION_DAYS",
        "MIN_RECURRENCE_MINUTES",
        "WEBHOOK_URL",
        "WEBHOOK_LISTEN",
        "WEBHOOK_SECRET",
    }
)

_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def parse_networks(raw: Any) -> tuple[IPNetwork, ...]:
    """``DOWNLOAD_ALLOW_NETWORKS``: CIDRs separated by commas; ``ValueError`` names a bad one."""
    if raw is None or raw == "":
        return ()
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        items = [p.strip() for p in str(raw).split(",") if p.strip()]
    out: list[IPNetwork] = []
    for item in items:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            out.append(item)
            continue
        try:
            out.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a CIDR such as 127.0.0.0/8") from None
    return tuple(out)


def _path(text: str) -> Path:
    if text != text.strip():
        raise ValueError("spaces around a path: left to the full check")
    return Path(text)


@dataclass(frozen=True)
class DownloadSettings:
    """The settings a download reads, with :class:`bot.config.Settings`' names, defaults and
    bounds (``metadata``; a test compares them), so either can be handed to the engine."""

    download_connections: int = field(default=16, metadata={"ge": 1, "le": 16})
    download_allow_networks: tuple[IPNetwork, ...] = field(
        default=(), metadata={"parse": parse_networks}
    )
    download_read_timeout: float = field(default=30.0, metadata={"gt": 0})
    download_max_retries: int = field(default=5, metadata={"ge": 0, "le": 100})
    max_file_mb: int = field(default=4096, metadata={"ge": 1})
    disk_reserve_mb: int = field(default=1024, metadata={"ge": 0})
    download_connect_timeout: float = field(default=10.0, metadata={"gt": 0})
    download_probe_timeout: float = field(default=30.0, metadata={"gt": 0})
    download_min_speed_kib: float = field(default=1.0, metadata={"ge": 0})
    download_min_speed_window: float = field(default=60.0, metadata={"gt": 0})
    download_time_limit_minutes: float = field(default=360.0, metadata={"ge": 0})
    download_ca_bundle: Path | None = field(default=None, metadata={"parse": _path})
    media_extract: bool = True
    media_max_height: int = field(default=1080, metadata={"ge": 144, "le": 4320})
    media_playlist_max: int = field(default=10, metadata={"ge": 1, "le": 100})
    media_extract_timeout: float = field(default=60.0, metadata={"gt": 0})


def _plain_value(text: str, default: Any, bounds: Mapping[str, Any]) -> Any:
    """``text`` as the type of ``default`` when written plainly and within ``bounds``; raises
    ``ValueError`` for anything else (pydantic may still accept it, e.g. ``1e3``: the full check
    decides)."""
    if isinstance(default, bool):
        if text.lower() in _TRUE or text.lower() in _FALSE:
            return text.lower() in _TRUE
        raise ValueError(text)
    pattern, kind = (_WHOLE, int) if isinstance(default, int) else (_DECIMAL, float)
    if not pattern.fullmatch(text):
        raise ValueError(text)
    value = kind(text)
    low, above, high = bounds.get("ge"), bounds.get("gt"), bounds.get("le")
    if (
        (low is not None and value < low)
        or (above is not None and value <= above)
        or (high is not None and value > high)
    ):
        raise ValueError(text)
    return value


def _raw_values(env_file: Path, environ: Mapping[str, str]) -> dict[str, str] | None:
    """Every non-empty setting by upper-cased name, the environment over the file; ``None`` when
    a name is unknown (file), a near miss of a setting (environment), or given twice."""
    values: dict[str, str] = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        in_file = dotenv_values(env_file, encoding="utf-8")
        names = [name.upper() for name in in_file]
        if (
            len(set(names)) != len(names)
            or any(v is None for v in in_file.values())
            or settings_words.unknown_names(names, SETTING_NAMES, only_typos=False)
        ):
            return None
        # TELEGRAM_API_ID and the like belong to other programs sharing the file: not ours.
        values.update(
            (name.upper(), v) for name, v in in_file.items() if v and name.upper() in SETTING_NAMES
        )
    if settings_words.unknown_names(environ.keys(), SETTING_NAMES, only_typos=True):
        return None
    ours = [name for name in environ if name.upper() in SETTING_NAMES]
    if len({name.upper() for name in ours}) != len(ours):
        return None
    values.update((name.upper(), environ[name]) for name in ours if environ[name])
    return values


def read_download_settings(
    env_file: str | Path = ".env", environ: Mapping[str, str] | None = None
) -> DownloadSettings | None:
    """The download settings, or ``None`` when only :func:`bot.config.load_settings` can tell."""
    raw = _raw_values(Path(env_file), os.environ if environ is None else environ)
    if raw is None:
        return None
    by_name = {f.name.upper(): f for f in fields(DownloadSettings)}
    if any(name not in by_name for name in raw):
        return None  # another setting has a value: the full check validates it
    values: dict[str, Any] = {}
    for name, text in raw.items():
        if "#" in text:
            return None  # perhaps a comment after the value: the full check words it
        spec = by_name[name]
        parse: Callable[[str], Any] | None = spec.metadata.get("parse")
        try:
            values[spec.name] = (
                parse(text)
                if parse is not None
                else _plain_value(text, spec.default, spec.metadata)
            )
        except ValueError:
            return None
    return DownloadSettings(**values)
