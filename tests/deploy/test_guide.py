"""docs/deploy.md agrees with the files it tells people to copy: the same paths, ports, webhook
location and setting names. A guide that drifts from the unit or nginx.conf fails here first."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings
from bot.settings_words import OTHER_PROGRAMS_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text()
UNIT = (ROOT / "deploy" / "errandbot.service").read_text()
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
COMPOSE = (ROOT / "deploy" / "docker-compose.yml").read_text()
#: read by the test suite (tests/deploy/test_image.py), not by Errand
TEST_SETTINGS = {"ERRAND_IMAGE_BASE"}


def _unit(key: str) -> list[str]:
    return re.findall(rf"(?m)^{key}=(.*)$", UNIT)


def test_guide_uses_the_units_paths_and_user():
    [exec_start] = _unit("ExecStart")
    binary = exec_start.split()[0]
    assert binary in GUIDE and binary.removesuffix("/bin/errandbot") in GUIDE
    [env_file] = _unit("EnvironmentFile")
    assert env_file in GUIDE
    [user] = _unit("User")
    assert f"--shell /usr/sbin/nologin {user}" in GUIDE
    assert f"-p User={user}" in GUIDE  # the check command runs as the service does


def test_guide_nginx_and_unit_agree_on_webhook_and_files():
    [location] = re.findall(r"location = (/\S+) \{", NGINX)
    assert f"WEBHOOK_URL=https://bot.example.org{location}" in GUIDE
    assert f"WEBHOOK_URL=https://bot.example.org{location}" in NGINX
    listen = re.search(r"proxy_pass http://(127\.0\.0\.1:\d+);", NGINX).group(1)
    assert f"WEBHOOK_LISTEN={listen}" in GUIDE
    [alias] = re.findall(r"alias (\S+);", NGINX)
    assert "DOWNLOAD_DIR=" + alias.rstrip("/") in " ".join(_unit("Environment"))


def test_guide_file_server_port_matches_compose():
    files = COMPOSE.split("\n  files:\n")[1].split("\n\n")[0]  # the service, to its blank line
    [published] = re.findall(r'"127\.0\.0\.1:(\d+):\d+"', files)
    assert f"proxy_pass http://127.0.0.1:{published}/files/;" in GUIDE
    assert "proxy_intercept_errors on;" in GUIDE  # so that nginx's page for a gone file shows


def test_guide_installs_from_the_source_archive_make_dist_builds():
    """No placeholder repository: the archive from `make dist`, unpacked where the unit expects."""
    assert "YOUR" not in GUIDE and "git clone" not in GUIDE
    assert "make dist" in GUIDE and "dist:" in (ROOT / "Makefile").read_text()
    assert "tar -xzf /tmp/errandbot-*.tar.gz -C /opt/errandbot/src --strip-components=1" in GUIDE
    assert "pip install /opt/errandbot/src" in GUIDE


def test_guide_says_how_to_run_the_image_test():
    assert ".venv/bin/pytest -s tests/deploy/test_image.py" in GUIDE
    assert "deploy/local-base-image.sh" in GUIDE and (ROOT / "deploy/local-base-image.sh").is_file()


def test_guide_restores_into_docker_as_the_bots_user():
    restore = GUIDE.split("### Restore", 1)[1].split("\n## ", 1)[0]
    assert "--entrypoint python3 errand" in restore and "< errand-" in restore
    assert "docker cp" in restore  # named as the way that breaks it


def test_every_setting_the_guide_names_exists():
    known = (
        {name.upper() for name in Settings.model_fields} | OTHER_PROGRAMS_SETTINGS | TEST_SETTINGS
    )
    named = set(re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)=", GUIDE))
    assert named, "the guide shows no settings?"
    assert named <= known, f"not settings: {sorted(named - known)}"


def test_guide_links_resolve():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", GUIDE):
        assert (ROOT / "docs" / target).exists(), target
    for anchor in re.findall(r"\]\(#([^)]+)\)", GUIDE):
        headings = re.findall(r"(?m)^#+ (.+)$", GUIDE)
        slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
        assert anchor in slugs, anchor
