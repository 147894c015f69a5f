"""Every settings block a person copies (docs/deploy.md and .env.example) means the same thing to
systemd's ``EnvironmentFile=``, to ``docker run --env-file`` and to Errand's own .env reader:
no comment after a value (systemd and Docker keep it as part of the value, and a correct token
was then refused), every name a real setting, every value what it says.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import Settings, SettingsError, load_settings
from bot.settings_words import OTHER_PROGRAMS_SETTINGS, inline_comment
from tests.deploy.envfiles import docker_env_file, systemd_environment_file

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
KNOWN = {name.upper() for name in Settings.model_fields} | OTHER_PROGRAMS_SETTINGS


def _blocks() -> list[tuple[str, str]]:
    """(where, text) for each fenced block made only of NAME=value lines and comments."""
    found = []
    for doc in ("docs/deploy.md", "README.md"):
        text = (ROOT / doc).read_text()
        for match in re.finditer(r"(?ms)^[ \t]*```[a-z]*\n(.*?)^[ \t]*```", text):
            lines = [line.strip() for line in match.group(1).splitlines() if line.strip()]
            settings = [line for line in lines if not line.startswith("#")]
            if settings and all(ASSIGNMENT.match(line) for line in settings):
                where = f"{doc}:{text[: match.start()].count(chr(10)) + 1}"
                found.append((where, "\n".join(lines) + "\n"))
    found.append((".env.example", (ROOT / ".env.example").read_text()))
    return found


BLOCKS = _blocks()


def test_the_guide_has_settings_blocks():
    guide = [where for where, _ in BLOCKS if where.startswith("docs/deploy.md")]
    assert len(guide) >= 3, BLOCKS  # the minimum, the webhook, the local Bot API server


@pytest.mark.parametrize(("where", "text"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_block_reads_the_same_everywhere_and_intact(where, text, tmp_path):
    written = {
        m.group(1): m.group(2)
        for line in text.splitlines()
        if (m := ASSIGNMENT.match(line.strip()))
    }
    systemd = systemd_environment_file(text)
    docker = docker_env_file(text)
    env_file = tmp_path / ".env"
    env_file.write_text(text)
    dotenv = {k: v or "" for k, v in dotenv_values(env_file).items()}
    assert systemd == docker == dotenv == written, where
    for name, value in written.items():
        assert name in KNOWN, f"{where}: {name} is not a setting"
        assert inline_comment(value) is None, f"{where}: {name}={value!r} has a comment after it"


@pytest.mark.parametrize(("where", "text"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_block_is_accepted_by_errand(where, text, monkeypatch, tmp_path):
    """What systemd hands over, loaded by Errand, placeholders ("AAE...") filled in."""
    for name in KNOWN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    for name, value in systemd_environment_file(text).items():
        if name in OTHER_PROGRAMS_SETTINGS:
            continue
        monkeypatch.setenv(name, value.replace("...", "xyz"))
    if "WEBHOOK_URL" in systemd_environment_file(text):
        monkeypatch.setenv("WEBHOOK_SECRET", "filled-in")
    try:
        load_settings()
    except SettingsError as exc:
        pytest.fail(f"{where}: {exc}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BOT_TOKEN=123:abc   # from @BotFather\n", {"BOT_TOKEN": "123:abc   # from @BotFather"}),
        ("# a comment\n; another\nA=1\n", {"A": "1"}),
        ("A= spaced out \t\n", {"A": "spaced out"}),
        ('A="quoted # not a comment"\n', {"A": "quoted # not a comment"}),
        ("A='single \\n kept'\n", {"A": "single \\n kept"}),
        ('A="say \\"hi\\" \\x"\n', {"A": 'say "hi" \\x'}),
        ("A=one\\\ntwo\n", {"A": "onetwo"}),
        ("A=1\nA=2", {"A": "2"}),
        ("A=\n", {"A": ""}),
        ("  KEY  =value\n", {"KEY": "value"}),
    ],
)
def test_systemd_rules(text, expected):
    """The reference parser follows systemd's documented rules, inline comments included."""
    assert systemd_environment_file(text) == expected


def test_docker_keeps_a_comment_after_a_value():
    assert docker_env_file("A=1 # one\n# c\n  B=x\n") == {"A": "1 # one", "B": "x"}
