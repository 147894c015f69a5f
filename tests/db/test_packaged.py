"""The migrations ship in the wheel (``package-data``) and run from it: an installed Errand, not
this checkout, creates its database through them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.pybuild import build

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e  # builds a wheel and runs Errand from it in a subprocess
pytest.importorskip("build", reason="PyPA build is not installed (pip install '.[test]')")


@pytest.mark.timeout(300)
def test_wheel_holds_the_migrations_and_upgrades_from_them(tmp_path):
    tree = tmp_path / "src"  # a copy: building in the checkout would leave build/ behind
    shutil.copytree(ROOT / "bot", tree / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    wheel = build("wheel", tree, tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    ours = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "bot" / "migrations").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert ours and [n for n in ours if n not in names] == []

    database = tmp_path / "errand.db"
    script = (
        "import bot, sys; from bot.storage import make_engine; from bot.db import migrate; "
        f"e = make_engine('sqlite:///{database}'); migrate.upgrade(e); "
        "print(bot.__file__, migrate.status(e).state)"
    )
    # -I: neither this checkout nor the editable install is on the path; only the wheel's files
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {script}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith(str(tmp_path / "site")) and run.stdout.strip().endswith("current")
