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
PG_PASSWORD = "pg-password-only-for-the-database"
ENV = (
    f"BOT_TOKEN={TOKEN}\nWEBHOOK_SECRET={SECRET}\nALLOWED_USERS=1\n"
    "TELEGRAM_API_ID=12345\nTELEGRAM_API_HASH=0123456789abcdef\n"
    f"POSTGRES_PASSWORD={PG_PASSWORD}\n"
    f"DATABASE_URL=postgresql+psycopg://errand:{PG_PASSWORD}@postgres:5432/errand\n"
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


needs_compose = pytest.mark.skipif(
    not TOOLS,
    reason="neither `docker compose` (v2) nor `docker-compose` is "
    "installed (apt-get install docker-compose)",
)


def compose_config(tmp_path: Path, command: list[str], *profiles: str) -> dict:
    """``config`` of a copy of deploy/ run from the repository root, as the guide says, with
    ``profiles``; asserts it passes without warnings and returns the services those profiles
    start (compose v2 lists only those; 1.29 lists all, each with its ``profiles``)."""
    (tmp_path / "deploy").mkdir()
    for name in ("docker-compose.yml", "nginx-replicas.conf"):
        shutil.copy(DEPLOY / name, tmp_path / "deploy")
    (tmp_path / ".env").write_text(ENV)
    # --env-file names the same .env for the ${...} values (compose v2 also reads ./.env by
    # itself, 1.29 only deploy/.env)
    chosen = [arg for profile in profiles for arg in ("--profile", profile)]
    result = subprocess.run(
        [*command, "--env-file", ".env", "-f", "deploy/docker-compose.yml", *chosen, "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr.lower(), result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    return {
        name: service
        for name, service in services.items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }


@needs_compose
@pytest.mark.parametrize("tool", TOOLS, ids=[name for name, _ in TOOLS])
@pytest.mark.timeout(120)
def test_compose_config_accepts_the_file_and_keeps_secrets_from_the_bot_api(tmp_path, tool):
    _, command = tool
    services = compose_config(tmp_path, command, "bigfiles", "files")
    assert set(services) == {"errand", "telegram-bot-api", "files"}
    assert services["errand"]["environment"]["BOT_TOKEN"] == TOKEN
    api_env = services["telegram-bot-api"]["environment"]
    assert api_env["TELEGRAM_API_ID"] in ("12345", 12345)
    assert api_env["TELEGRAM_API_HASH"] == "0123456789abcdef"
    assert TOKEN not in str(services["telegram-bot-api"]) + str(services["files"])
    assert SECRET not in str(services["telegram-bot-api"]) + str(services["files"])


@needs_compose
@pytest.mark.parametrize("tool", TOOLS, ids=[name for name, _ in TOOLS])
@pytest.mark.timeout(120)
def test_default_is_the_single_container(tmp_path, tool):
    assert set(compose_config(tmp_path, tool[1])) == {"errand"}


@needs_compose
@pytest.mark.parametrize("tool", TOOLS, ids=[name for name, _ in TOOLS])
@pytest.mark.timeout(120)
def test_scale_profile_runs_postgres_two_replicas_behind_nginx_and_two_workers(tmp_path, tool):
    services = compose_config(tmp_path, tool[1], "scale")
    assert set(services) == {"errand", "errand-2", "worker-1", "worker-2", "postgres", "balancer"}
    bots = ("errand", "errand-2", "worker-1", "worker-2")
    for name in bots:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://errand:"), name
        assert env["BOT_TOKEN"] == TOKEN, name
        assert services[name]["image"] == "errandbot:local", name
        assert services[name]["read_only"] is True and services[name]["cap_drop"] == ["ALL"]
        assert any(
            str(v).endswith(":/downloads:rw") or "/downloads" in str(v)
            for v in services[name]["volumes"]
        ), name
    assert services["errand-2"]["environment"]["RUN_WORKER"] in ("false", False)
    assert services["errand-2"]["environment"]["WEBHOOK_LISTEN"] == "0.0.0.0:8080"
    for worker in ("worker-1", "worker-2"):
        assert services[worker]["command"] == ["worker"]
        assert "ports" not in services[worker]
    # the database gets its own password and nothing of the bot's; the balancer gets nothing
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == PG_PASSWORD
    assert "ports" not in services["postgres"]
    for name in ("postgres", "balancer"):
        assert TOKEN not in str(services[name]) and SECRET not in str(services[name]), name
    assert PG_PASSWORD not in str(services["balancer"])
    # the balancer runs the shipped upstream config, on the host's loopback only
    [mount] = services["balancer"]["volumes"]
    assert "nginx-replicas.conf:/etc/nginx/conf.d/default.conf:ro" in str(mount)
    [port] = services["balancer"]["ports"]
    assert str(port).startswith("127.0.0.1:8088:8080")
    # the secrets come from .env, never from the compose file itself
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD" in text
    assert "DATABASE_URL:" not in text and "BOT_TOKEN:" not in text
