"""The Docker image, built from deploy/Dockerfile and run in a real Docker engine.

It runs as uid 10001, becomes healthy through its own HEALTHCHECK, keeps a reminder across
``docker restart``, stops within 2 s of ``docker stop``, and does not report healthy when the
database was restored as root (``docker cp``), which leaves the bot unable to save anything.

Needs a reachable Docker engine; skipped otherwise, with the reason. The test never starts a
daemon. The base image is ``python:3.12-slim-bookworm`` (the Dockerfile's default); where Docker
Hub is out of reach, make a local one with ``deploy/local-base-image.sh`` and name it in
``ERRAND_IMAGE_BASE``. Containers use the host's network, so the bot reaches the Bot API
emulator on 127.0.0.1 (and the test needs no bridge network). docs/deploy.md, "Testing the image",
says how to run it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.harness import USER

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
DOCKER = shutil.which("docker")
DEFAULT_BASE = "python:3.12-slim-bookworm"
BASE = os.environ.get("ERRAND_IMAGE_BASE", "")
IMAGE = "errandbot:pytest"
#: The image's own HEALTHCHECK reports first after its interval (30 s); allow for a slow machine.
FIRST_HEALTHY_WITHIN = 90.0
STOP_WITHIN = 2.0


def _docker(
    *args: str, timeout: float = 120, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    assert DOCKER is not None
    result = subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no message"


def _why_no_engine() -> str | None:
    if DOCKER is None:
        return "no docker command on PATH (apt-get install docker.io)"
    try:
        info = _docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 30 s"
    if info.returncode != 0:
        return f"no Docker engine reachable ({_last_line(info.stderr)})"
    return None


@pytest.fixture(scope="module")
def image() -> str:
    reason = _why_no_engine()
    if reason:
        print(f"\nimage tests skipped: {reason}")
        pytest.skip(reason)
    base = BASE or DEFAULT_BASE
    if _docker("image", "inspect", base, check=False).returncode != 0 and not BASE:
        pulled = _docker("pull", base, timeout=300, check=False)
        if pulled.returncode != 0:
            reason = (
                f"the base image {base} is not here and cannot be pulled "
                f"({_last_line(pulled.stderr)}); make one with "
                "deploy/local-base-image.sh and set ERRAND_IMAGE_BASE"
            )
            print(f"\nimage tests skipped: {reason}")
            pytest.skip(reason)
    # Without the buildx plugin, a recent CLI needs the classic builder asked for by name; it
    # is also the builder that reads only the root .dockerignore.
    classic = _docker("buildx", "version", check=False).returncode != 0
    args = ["build", "--network", "host", "-f", "deploy/Dockerfile", "-t", IMAGE]
    if BASE:
        args += ["--build-arg", f"BASE={BASE}"]
    started = time.monotonic()
    _docker(*args, str(ROOT), timeout=900, env={"DOCKER_BUILDKIT": "0"} if classic else None)
    print(f"\nimage built in {time.monotonic() - started:.1f} s from {base}")
    return IMAGE


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emu:
        yield emu


class Container:
    """One ``docker run`` of the image as the compose file runs it (read-only root, no
    capabilities, no-new-privileges, memory and pids limits), on named volumes, settings from
    an env file."""

    def __init__(
        self, image: str, env_file: Path, volumes: tuple[str, str], extra: tuple[str, ...] = ()
    ) -> None:
        self.name = f"errand-pytest-{uuid.uuid4().hex[:8]}"
        self.image, self.env_file, self.volumes, self.extra = image, env_file, volumes, extra

    def run(self) -> Container:
        _docker(
            "run",
            "-d",
            "--name",
            self.name,
            "--network",
            "host",
            "--env-file",
            str(self.env_file),
            "-v",
            f"{self.volumes[0]}:/data",
            "-v",
            f"{self.volumes[1]}:/downloads",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            "1g",
            "--pids-limit",
            "256",
            *self.extra,
            self.image,
        )
        return self

    def inspect(self, template: str) -> str:
        return _docker("inspect", "--format", template, self.name).stdout.strip()

    def health(self) -> str:
        return self.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}")

    def wait_health(self, wanted: str, timeout: float) -> float:
        """Seconds until Docker reports ``wanted``; fails at the deadline with the logs."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.health() == wanted:
                return time.monotonic() - started
            if self.inspect("{{.State.Running}}") != "true":
                break
            time.sleep(0.5)  # polling an external process's state: no event to wait on
        raise AssertionError(
            f"not {wanted} after {time.monotonic() - started:.0f} s "
            f"(now {self.health()!r}):\n{self.logs()}\n"
            f"{self.inspect('{{json .State.Health}}')}"
        )

    def logs(self) -> str:
        result = _docker("logs", self.name, check=False)
        return (result.stdout + result.stderr)[-4000:]

    def remove(self) -> None:
        _docker("rm", "-f", self.name, check=False)


@pytest.fixture
def volumes() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    names = (f"errand-pytest-data-{tag}", f"errand-pytest-downloads-{tag}")
    yield names
    if DOCKER:
        _docker("volume", "rm", "-f", *names, check=False)


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    made: list[Container] = []
    yield made
    for container in made:
        container.remove()


def _env_file(tmp_path: Path, emulator: BotApiEmulator) -> Path:
    """Settings as docs/deploy.md shows them: one per line, comments on their own lines."""
    path = tmp_path / "errand.env"
    path.write_text(
        "# written like docs/deploy.md: comments on their own lines\n"
        f"BOT_TOKEN={emulator.token}\n"
        f"TELEGRAM_API_URL={emulator.url}\n"
        f"ALLOWED_USERS={USER}\n"
        "DISK_RESERVE_MB=1\n"
    )
    return path


def _wait_polling(emulator: BotApiEmulator, container: Container, before: int) -> None:
    def polling() -> bool:
        if container.inspect("{{.State.Running}}") != "true":
            raise AssertionError(f"the container stopped:\n{container.logs()}")
        return len(emulator.calls_of("getUpdates")) > before

    emulator.wait_for(polling, 60, "the bot in the container to poll")


def test_runs_as_uid_10001_and_becomes_healthy(image, emulator, volumes, containers, tmp_path):
    container = Container(image, _env_file(tmp_path, emulator), volumes).run()
    containers.append(container)
    took = container.wait_health("healthy", FIRST_HEALTHY_WITHIN)
    print(f"\nhealthy {took:.1f} s after start")
    assert took < 60, "the first health report should come well before a minute"
    assert _docker("exec", container.name, "id", "-u").stdout.strip() == "10001"
    # the bot itself, not only the exec'd command: PID 1 runs as 10001
    status = _docker("exec", container.name, "cat", "/proc/1/status").stdout
    assert any(line.split()[:2] == ["Uid:", "10001"] for line in status.splitlines())
    owner = _docker("exec", container.name, "stat", "-c", "%u:%g", "/data/errand.db").stdout
    assert owner.strip() == "10001:10001"
    # no pip at run time, and the root file system really is read-only
    assert (
        _docker("exec", container.name, "python3", "-c", "import pip", check=False).returncode != 0
    )
    assert _docker("exec", container.name, "touch", "/opt/x", check=False).returncode != 0


def test_reminder_survives_restart_and_stop_is_quick(
    image, emulator, volumes, containers, tmp_path
):
    container = Container(image, _env_file(tmp_path, emulator), volumes).run()
    containers.append(container)
    _wait_polling(emulator, container, 0)
    command = emulator.send_text(USER, USER, "/remind in 10m stretch")
    emulator.wait_reply(USER, command, timeout=30)

    before = len(emulator.calls_of("getUpdates"))
    _docker("restart", container.name, timeout=60)
    _wait_polling(emulator, container, before)
    listing = emulator.send_text(USER, USER, "/timers")
    emulator.wait_reply(USER, listing, contains="stretch", timeout=30)

    started = time.monotonic()
    _docker("stop", container.name, timeout=60)
    took = time.monotonic() - started
    print(f"\ndocker stop took {took:.2f} s")
    assert took < STOP_WITHIN, container.logs()
    assert container.inspect("{{.State.ExitCode}}") == "0", container.logs()


def test_database_restored_as_root_is_not_healthy(image, emulator, volumes, containers, tmp_path):
    """The restore the docs warn about: ``docker cp`` of a backup leaves it owned by root."""
    first = Container(image, _env_file(tmp_path, emulator), volumes).run()
    containers.append(first)
    _wait_polling(emulator, first, 0)
    _docker("stop", first.name, timeout=60)
    backup = tmp_path / "backup.db"
    _docker("cp", f"{first.name}:/data/errand.db", str(backup))
    with sqlite3.connect(backup) as db:  # a real backup of this schema, as the docs make it
        assert db.execute("select count(*) from schema_version").fetchone()[0] >= 1
    _docker("cp", str(backup), f"{first.name}:/data/errand.db")

    # the image's own HEALTHCHECK, only sooner and less patient than its defaults
    restored = Container(
        image,
        _env_file(tmp_path, emulator),
        volumes,
        ("--health-interval", "2s", "--health-retries", "1", "--health-start-period", "1s"),
    ).run()
    containers.append(restored)
    restored.wait_health("unhealthy", 60)
    log = restored.inspect("{{range .State.Health.Log}}{{.Output}}{{end}}")
    assert "database: /data/errand.db is read-only for this user (uid 10001)" in log, (
        f"health log: {log!r}\ncontainer log:\n{restored.logs()}"
    )


def test_settings_blocks_reach_the_container_as_written(image, tmp_path):
    """Docker's own --env-file reading of every block people copy, checked against the reference
    parser the settings-block test uses (tests/deploy/test_settings_blocks.py)."""
    from tests.deploy.envfiles import docker_env_file
    from tests.deploy.test_settings_blocks import BLOCKS

    for number, (where, text) in enumerate(BLOCKS):
        env_file = tmp_path / f"block-{number}.env"
        env_file.write_text(text)
        result = _docker(
            "run",
            "--rm",
            "--network",
            "none",
            "--env-file",
            str(env_file),
            "--entrypoint",
            "env",
            image,
        )
        seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        for name, value in docker_env_file(text).items():
            assert seen.get(name) == value, f"{where}: {name}"


def test_bad_setting_under_a_restart_policy_does_not_loop(
    image, emulator, volumes, containers, tmp_path
):
    """Compose runs the bot with `restart: unless-stopped`; a bad setting used to restart it 7
    times in 20 s and on. Now it is logged once and the container waits, unhealthy."""
    env_file = _env_file(tmp_path, emulator)
    env_file.write_text(env_file.read_text() + "DOWNLOAD_CONECTIONS=4\n")
    container = Container(image, env_file, volumes, ("--restart", "unless-stopped")).run()
    containers.append(container)
    deadline = time.monotonic() + 60
    while "not running until the setting is fixed" not in container.logs():
        assert time.monotonic() < deadline, container.logs()
        time.sleep(0.5)  # polling an external process's log: no event to wait on
    logs = container.logs()
    assert "DOWNLOAD_CONECTIONS (did you mean DOWNLOAD_CONNECTIONS?) is not a setting" in logs
    time.sleep(3)  # long enough for Docker's first restarts (100 ms, 200 ms, ...) to show
    assert container.inspect("{{.RestartCount}}") == "0"
    assert container.inspect("{{.State.Running}}") == "true"
    assert container.logs().count("bad setting") == 1
    started = time.monotonic()
    _docker("stop", container.name, timeout=60)
    assert time.monotonic() - started < STOP_WITHIN
