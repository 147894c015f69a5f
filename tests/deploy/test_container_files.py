"""The Docker files say what the guide promises: a non-root user, a HEALTHCHECK that runs
`errandbot check`, state and downloads in volumes, nothing published beyond loopback, and the
optional local Bot API server and file server sharing the downloads volume at the same path.

No Docker engine runs in CI, so these read the files; tests/deploy/test_image.py builds and runs
the image where an engine is reachable. Each assertion is one a careless edit would break.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install '.[test]')")


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions(DEPLOY / "Dockerfile")
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def _base_default() -> str:
    [base] = [
        args.partition("=")[2]
        for word, args in _instructions(DEPLOY / "Dockerfile")
        if word == "ARG" and args.startswith("BASE=")
    ]
    return base


def test_image_base_is_pinned_by_python_and_debian_release():
    base = _base_default()
    assert base == "python:3.12-slim-bookworm"  # never a floating python:3-slim or :latest
    froms = [
        args.split()[0] for word, args in _instructions(DEPLOY / "Dockerfile") if word == "FROM"
    ]
    assert froms == ["${BASE}", "${BASE}"]  # both stages: the venv's python is the base's
    assert "@sha256:" in (DEPLOY / "Dockerfile").read_text()  # a digest to pin, in a comment


def test_image_runs_as_a_numeric_non_root_user():
    users = [args for word, args in _final_stage() if word == "USER"]
    assert users == ["10001:10001"]  # numeric: Kubernetes' runAsNonRoot can verify it


def test_image_has_a_healthcheck_that_runs_errandbot_check():
    [health] = [args for word, args in _final_stage() if word == "HEALTHCHECK"]
    assert "CMD" in health
    assert '"errandbot", "check"' in health or "errandbot check" in health


def test_image_has_no_anonymous_volumes():
    """A VOLUME line leaves an unnamed volume behind at every `docker run`; compose names them."""
    stage = _final_stage()
    assert not [args for word, args in stage if word == "VOLUME"]
    env = " ".join(args for word, args in stage if word == "ENV")
    assert "DATA_DIR=/data" in env and "DOWNLOAD_DIR=/downloads" in env


def test_first_health_report_comes_within_a_minute():
    [health] = [args for word, args in _final_stage() if word == "HEALTHCHECK"]
    interval = re.search(r"--interval=(\d+)s", health)
    assert interval and int(interval.group(1)) < 60


def test_no_build_tools_in_the_final_stage():
    stage = _final_stage()
    for word, args in stage:
        if word == "RUN":
            for tool in ("gcc", "build-essential", "pip install"):
                assert tool not in args, f"final stage runs {tool!r}: {args}"
            if "apt-get install" in args:  # ffmpeg on request (FFMPEG=yes) and nothing else
                installs = re.findall(r"apt-get install ([^&;]+)", args)
                assert [i.split() for i in installs] == [
                    ["--yes", "--no-install-recommends", "ffmpeg"]
                ], args
                assert '[ "$FFMPEG" = yes ]' in args and "rm -rf /var/lib/apt/lists/*" in args
        if word == "COPY" and "--from=" in args:
            assert shlex.split(args)[1] == "/opt/errandbot/venv"  # only the venv crosses over
    build = [args for word, args in _instructions(DEPLOY / "Dockerfile") if word == "RUN"]
    assert any("pip uninstall --yes" in args and " pip" in args for args in build)


def test_build_context_never_sends_a_local_env_file():
    """The root .dockerignore: the classic builder reads only this one (BuildKit would also read
    a deploy/Dockerfile.dockerignore, which must not exist to shadow it)."""
    assert not (DEPLOY / "Dockerfile.dockerignore").exists()
    lines = (DEPLOY.parent / ".dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"  # everything excluded first, then only what the build copies
    assert not any(p.lstrip("!").startswith((".env", "data")) for p in ignore if p.startswith("!"))
    copies = [
        shlex.split(args)
        for word, args in _instructions(DEPLOY / "Dockerfile")
        if word == "COPY" and "--from=" not in args
    ]
    sources = [source.rstrip("/") for *sources, _dest in copies for source in sources]
    assert sources == ["pyproject.toml", "README.md", "bot"]
    for source in sources:  # what the build copies is sent
        assert f"!{source}" in ignore or f"!{source}/" in ignore, source


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_has_no_top_level_name_and_fixed_volume_names():
    """Debian 12's docker-compose 1.29 rejects a top-level `name:`; fixed volume names keep the
    data in errand_data whatever the project is called (the folder name, by default)."""
    compose = _compose()
    assert "name" not in compose
    assert compose["volumes"]["data"]["name"] == "errand_data"
    assert compose["volumes"]["downloads"]["name"] == "errand_downloads"


def _unit_value(key: str) -> str:
    unit = (DEPLOY / "errandbot.service").read_text()
    [value] = re.findall(rf"(?m)^{key}=(.*)$", unit)
    return value.strip()


def test_compose_every_service_is_pinned_confined_limited_and_rotates_logs():
    for name, service in _compose()["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag not in ("latest", "stable", "stable-alpine", "alpine"), image
        assert any(ch.isdigit() for ch in tag) or tag == "local", f"{name}: {image} floats"
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["mem_limit"] and service["pids_limit"], name
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 1
    errand = _compose()["services"]["errand"]
    # the same ceilings as the systemd unit
    assert errand["mem_limit"].upper().rstrip("B") == _unit_value("MemoryMax").upper()
    assert str(errand["pids_limit"]) == _unit_value("TasksMax")
    assert errand["read_only"] is True


def test_compose_bot_api_server_gets_only_its_api_id_and_hash():
    api = _compose()["services"]["telegram-bot-api"]
    assert "env_file" not in api  # the whole .env would hand it BOT_TOKEN and WEBHOOK_SECRET
    assert set(api["environment"]) == {"TELEGRAM_API_ID", "TELEGRAM_API_HASH", "TELEGRAM_LOCAL"}


def test_compose_errand_service_builds_the_image_with_volumes():
    compose = _compose()
    errand = compose["services"]["errand"]
    context = (DEPLOY / errand["build"]["context"]).resolve()
    assert (context / errand["build"]["dockerfile"]).is_file()
    assert (context / "pyproject.toml").is_file()
    assert {"data:/data", "downloads:/downloads"} <= set(errand["volumes"])
    assert errand["environment"]["DOWNLOAD_DIR"] == "/downloads"
    assert errand["restart"] == "unless-stopped"
    assert set(compose["volumes"]) >= {"data", "downloads"}
    # with `unless-stopped`, a bad setting must not exit (it would restart in a loop): the
    # image's command holds instead (tests/deploy/test_bad_setting_hold.py)
    assert "command" not in errand
    [cmd] = [args for word, args in _final_stage() if word == "CMD"]
    assert cmd == '["run", "--hold-on-bad-setting"]'


def test_compose_publishes_nothing_beyond_loopback():
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} publicly"


def test_compose_local_bot_api_and_file_server_share_the_downloads_volume():
    services = _compose()["services"]
    errand_downloads = services["errand"]["environment"]["DOWNLOAD_DIR"]

    api = services["telegram-bot-api"]
    assert api["profiles"] == ["bigfiles"]
    assert api["environment"]["TELEGRAM_LOCAL"] == "1"
    # uploads by local path: the server must see the file at the very path Errand names
    assert f"downloads:{errand_downloads}:ro" in api["volumes"]

    files = services["files"]
    assert files["profiles"] == ["files"]
    assert any(v.startswith("downloads:") and v.endswith(":ro") for v in files["volumes"])
