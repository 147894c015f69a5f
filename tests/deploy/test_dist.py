"""`make dist`'s source archive is what docs/deploy.md installs from: it holds the package and
every file the guide copies (unit, nginx.conf, compose file, Dockerfile, .dockerignore,
.env.example, the guide itself), and never a local .env with the token."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.pybuild import build

#: Runs a real program (see tests/conftest.py): `make test-fast` skips this module.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("build", reason="PyPA build is not installed (pip install '.[test]')")

NEEDED = (
    ".env.example",
    ".dockerignore",
    "pyproject.toml",
    "README.md",
    "docs/deploy.md",
    "deploy/errandbot.service",
    "deploy/nginx.conf",
    "deploy/docker-compose.yml",
    "deploy/Dockerfile",
    "deploy/local-base-image.sh",
    "bot/cli.py",
    "bot/config.py",
    "bot/locales/zh/LC_MESSAGES/errand.po",
    "babel.cfg",
    "README.zh-CN.md",
)


@pytest.mark.timeout(300)
def test_source_archive_holds_what_the_guide_installs_and_no_env_file(tmp_path):
    tree = tmp_path / "src"
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
        timeout=30,
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: cannot tell the source files from local ones")
    for name in tracked.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    (tree / ".env").write_text("BOT_TOKEN=123456:AALocalSecretThatMustNotShip\n")
    (tree / "data").mkdir()
    (tree / "data" / "errand.db").write_bytes(b"local state")

    archive = build("sdist", tree, tmp_path / "dist")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        for member in tar.getmembers():
            if member.isfile():
                assert b"AALocalSecretThatMustNotShip" not in tar.extractfile(member).read()
    missing = [name for name in NEEDED if name not in names]
    assert not missing, f"not in {archive.name}: {missing}"
    assert ".env" not in names and not any(n.startswith("data/") for n in names)
