"""deploy/docker-compose.yml as Compose itself reads it: `docker compose config` (v2) and
Debian 12's `docker-compose config` (1.29), each where installed (skipped with the reason where
not). Run in a copy of the layout the file expects (deploy/ beside a .env), with settings that
include BOT_TOKEN and WEBHOOK_SECRET, which must not reach the Bot API server's container."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

#: Runs a real program (see tests/conftest.py): `make test-fast` skips this module.
pytestmark = pytest.mark.e2e

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install '.[test]')")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TOKEN = "123456:AASecretTokenThatMustStayWithErrand"
SECRET = "webhook-secret-that-must-stay-with-errand"
ENV = (
    f"BOT_TOKEN={TOKEN}\nWEBHOOK_SECRET={SECRET}\nALLOWED_USERS=1\n"
    "TELEGRAM_API_ID=12345\nTELEGRAM_API_HASH=0123456789abcdef\n"
)


def _tools() -> list[tuple[str, list[str]]]:
    found = []
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30
        ).returncode
        == 0
    ):
        found.append(("compose v2", [docker, "compose"]))
    legacy = shutil.which("docker-compose")
    if legacy:
        found.append(("docker-compose", [legacy]))
    return found


TOOLS = _tools()


@pytest.mark.skipif(
    not TOOLS,
    reason="neither `docker compose` (v2) nor `docker-compose` is "
    "installed (apt-get install docker-compose)",
)
@pytest.mark.parametrize("tool", TOOLS, ids=[name for name, _ in TOOLS])
@pytest.mark.timeout(120)
def test_compose_config_accepts_the_file_and_keeps_secrets_from_the_bot_api(tmp_path, tool):
    _, command = tool
    (tmp_path / "deploy").mkdir()
    shutil.copy(DEPLOY / "docker-compose.yml", tmp_path / "deploy")
    (tmp_path / ".env").write_text(ENV)
    # run from the repository root, as the guide says; --env-file names the same .env for the
    # ${...} values (compose v2 also reads ./.env by itself, 1.29 only deploy/.env)
    result = subprocess.run(
        [
            *command,
            "--env-file",
            ".env",
            "-f",
            "deploy/docker-compose.yml",
            "--profile",
            "bigfiles",
            "--profile",
            "files",
            "config",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"errand", "telegram-bot-api", "files"}
    assert services["errand"]["environment"]["BOT_TOKEN"] == TOKEN
    api_env = services["telegram-bot-api"]["environment"]
    assert api_env["TELEGRAM_API_ID"] in ("12345", 12345)
    assert api_env["TELEGRAM_API_HASH"] == "0123456789abcdef"
    assert TOKEN not in str(services["telegram-bot-api"]) + str(services["files"])
    assert SECRET not in str(services["telegram-bot-api"]) + str(services["files"])
    assert "warn" not in result.stderr.lower(), result.stderr
