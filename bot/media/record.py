"""The media record: a small JSON file in a job's folder that marks it as a media download.

It is written when the probe finds a web page (with what was asked: best, smaller, audio) and
completed with :class:`~bot.media.plan.MediaInfo` when the file is made. Keeping it in the job's
own folder, beside the ``.part`` files, means a restarted bot knows the job is a media download
without a schema change, and it goes away with the folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from bot.media.plan import MediaInfo, MediaMode, MediaRequest

RECORD_NAME = ".media.json"


def path_in(folder: Path) -> Path:
    return Path(folder) / RECORD_NAME


def save_request(folder: Path, request: MediaRequest) -> None:
    _write(folder, {"request": asdict(request)})


def load_request(folder: Path) -> MediaRequest | None:
    """The media request of the job in ``folder``; ``None`` for an ordinary download."""
    data = _read(folder)
    if not data or "request" not in data:
        return None
    values = dict(data["request"])
    values["mode"] = MediaMode(values.get("mode", MediaMode.BEST))
    known = MediaRequest.__dataclass_fields__
    return MediaRequest(**{k: v for k, v in values.items() if k in known})


def save_info(folder: Path, info: MediaInfo) -> None:
    data = _read(folder) or {}
    data["info"] = info.to_dict()
    _write(folder, data)


def load_info(folder: Path) -> MediaInfo | None:
    """How to deliver the finished media file in ``folder``; ``None`` when it is not one."""
    data = _read(folder)
    if not data or "info" not in data:
        return None
    values = dict(data["info"])
    values["notices"] = tuple(values.get("notices") or ())
    known = MediaInfo.__dataclass_fields__
    return MediaInfo(**{k: v for k, v in values.items() if k in known})


def _read(folder: Path) -> dict | None:
    try:
        return json.loads(path_in(folder).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _write(folder: Path, data: dict) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (RECORD_NAME + ".tmp")
    tmp.write_text(json.dumps(data), "utf-8")
    os.replace(tmp, path_in(folder))
