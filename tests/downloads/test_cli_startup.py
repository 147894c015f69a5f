"""``errandbot download`` starts without the bot's heavy libraries (issue #12: on a short transfer
start-up was most of the gap to aria2c). Checked by what a real download process has imported,
never by timing: pydantic settings, python-telegram-bot, SQLAlchemy, APScheduler and yt-dlp stay
out unless a setting only the full check can read is set, or the URL is a page with a video; Babel
(and the catalogs) and the media modules stay out while there is nothing to word or no page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.download_settings import SETTING_NAMES
from tests.downloads.conftest import payload, sha

pytestmark = [pytest.mark.timeout(60), pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "pydantic",
    "pydantic_settings",
    "telegram",
    "sqlalchemy",
    "apscheduler",
    "yt_dlp",
    "babel",
)
MEDIA = ("bot.media.pages", "bot.media.plan", "bot.media.ffmpeg", "bot.i18n")
# Runs the CLI's entry point, then reports the exit status and which heavy packages were loaded.
SCRIPT = f"""
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
heavy += sorted(set(sys.modules) & set({MEDIA!r}))
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def _download(url: str, cwd: Path, **settings: str) -> tuple[dict, str, str]:
    """(the report, stdout before it, stderr) of one ``errandbot download URL -q`` in a process
    whose environment holds no setting but ``settings``."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env.update(PYTHONPATH=str(REPO), DOWNLOAD_ALLOW_NETWORKS="127.0.0.0/8", **settings)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "download", url, "-o", str(cwd / "out"), "-q"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    *printed, report = done.stdout.strip().splitlines()
    return json.loads(report), "\n".join(printed), done.stderr


def test_a_plain_download_loads_none_of_the_heavy_libraries(origin, tmp_path):
    data = payload(200_000)
    origin.add_file("/plain.bin", data)
    report, printed, err = _download(origin.url("/plain.bin"), tmp_path)
    assert report == {"code": 0, "heavy": []}, err
    assert sha(Path(printed).read_bytes()) == sha(data)


def test_another_setting_with_a_value_gets_the_full_check(origin, tmp_path):
    origin.add_file("/full.bin", payload(1000))
    report, _printed, err = _download(origin.url("/full.bin"), tmp_path, ALLOWED_USERS="42")
    assert report["code"] == 0, err
    assert "pydantic_settings" in report["heavy"]


def test_a_bad_download_setting_is_still_named_by_the_full_check(origin, tmp_path):
    origin.add_file("/bad.bin", payload(1000))
    report, printed, err = _download(origin.url("/bad.bin"), tmp_path, DOWNLOAD_CONNECTIONS="17")
    assert report["code"] == 2 and printed == ""
    assert (
        err
        == "errandbot: bad setting DOWNLOAD_CONNECTIONS: '17' is not a whole number from 1 to 16\n"
    )
    assert not (tmp_path / "out").exists()
