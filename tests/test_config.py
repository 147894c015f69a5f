"""Settings parsing: good values, defaults, and every bad value named in one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import IdList, Settings, SettingsError, load_settings, prepare_dirs, setting_names

SETTING_NAMES = sorted(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient settings and no ``.env`` from the working directory leak into these tests."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings()
    assert s.token is None
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.data_dir == Path("data") and s.downloads_path == Path("data/downloads")
    assert 42 not in s.allowed_users and not s.allowed_users.everyone
    assert s.download_connections == 16 and s.max_upload_mb == 50


def test_values_from_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("ALLOWED_USERS=1, 2 ,-100\nDOWNLOAD_DIR=/srv/files\n")
    monkeypatch.setenv("ADMIN_USERS", "*")
    monkeypatch.setenv("DOWNLOAD_ALLOW_NETWORKS", "127.0.0.0/8, ::1/128")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    s = load_settings()
    assert s.allowed_users == IdList(ids=frozenset({1, 2, -100}))
    assert s.admin_users.everyone and 12345 in s.admin_users
    assert [str(n) for n in s.download_allow_networks] == ["127.0.0.0/8", "::1/128"]
    assert s.downloads_path == Path("/srv/files")
    assert s.telegram_api_url == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ALLOWED_USERS", "12,bob", "'bob' is not a numeric id"),
        ("ADMIN_USERS", "1;2", "is not a numeric id"),
        ("BOT_TOKEN", "not-a-token", "does not look like a token"),
        ("TELEGRAM_API_URL", "api.telegram.org", "is not an http(s) URL"),
        ("TELEGRAM_API_URL", "ftp://x", "is not an http(s) URL"),
        ("PUBLIC_BASE_URL", "files.example.com", "is not an http(s) URL"),
        ("WEBHOOK_URL", "example.com/hook", "is not an http(s) URL"),
        ("WEBHOOK_LISTEN", "8080", "is not HOST:PORT"),
        ("WEBHOOK_LISTEN", "127.0.0.1:99999", "is not HOST:PORT"),
        ("DOWNLOAD_ALLOW_NETWORKS", "10.0.0.0/33", "is not a CIDR"),
        ("DOWNLOAD_CONNECTIONS", "0", "'0' is not a whole number from 1 to 16"),
        ("DOWNLOAD_CONNECTIONS", "17", "'17' is not a whole number from 1 to 16"),
        ("MAX_UPLOAD_MB", "lots", "'lots' is not a whole number from 1 to 2000"),
        ("MAX_FILE_MB", "1.5", "'1.5' is not a whole number, 1 or more"),
        ("DAILY_QUOTA_MB", "-1", "'-1' is not a whole number, 0 or more"),
        ("RETENTION_HOURS", "0", "'0' is not a number above 0"),
        ("DOWNLOAD_READ_TIMEOUT", "soon", "'soon' is not a number above 0"),
        ("LOG_LEVEL", "LOUD", "is not one of"),
        ("DEFAULT_TZ", "Mars/Olympus", "is not an IANA time zone"),
        ("PROGRESS_INTERVAL", "0.1", "'0.1' is not a number, 1 or more"),
    ],
)
def test_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert expected in message
    assert "\n" not in message
    assert "Input should" not in message and "pydantic" not in message  # our words, not its


def test_webhook_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/hook")
    with pytest.raises(SettingsError, match=r"^WEBHOOK_SECRET: required when WEBHOOK_URL is set"):
        load_settings()
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    assert load_settings().webhook_url == "https://bot.example.org/hook"


def test_token_value_is_never_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:secret part with spaces")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "secret" not in str(info.value)


def test_unwritable_dir_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = load_settings(data_dir=blocker / "sub")
    with pytest.raises(SettingsError, match=r"^DATA_DIR: .* is not a writable directory"):
        prepare_dirs(settings)


@pytest.mark.e2e
def test_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "ALLOWED_USERS": "x", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "errandbot: bad setting ALLOWED_USERS: 'x' is not a numeric id (use ids separated by "
        "commas, or *)"
    ]
    assert "Traceback" not in result.stderr


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parents[1] / ".env.example").read_text()
    missing = [name for name in SETTING_NAMES if f"{name}=" not in example]
    assert not missing, f".env.example lacks {missing}"


def test_env_example_copied_as_is_gives_the_defaults(tmp_path: Path) -> None:
    example = (Path(__file__).parents[1] / ".env.example").read_text()
    (tmp_path / ".env").write_text(example)
    assert load_settings() == Settings(_env_file=None)


def test_readme_table_lists_every_setting() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [name for name in SETTING_NAMES if f"| `{name}` |" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ALLOWED_USER=1", "in .env: ALLOWED_USER (did you mean ALLOWED_USERS?) is not a setting"),
        ("DOWNLOAD_CONECTIONS=4", "DOWNLOAD_CONECTIONS (did you mean DOWNLOAD_CONNECTIONS?)"),
        ("download_conections=4", "DOWNLOAD_CONECTIONS (did you mean DOWNLOAD_CONNECTIONS?)"),
        (
            "FROBNICATE=1",
            "in .env: FROBNICATE is not a setting; every setting is listed in .env.example",
        ),
    ],
)
def test_unknown_name_in_dotenv_is_reported_with_the_closest_setting(
    tmp_path: Path, line: str, expected: str
) -> None:
    (tmp_path / ".env").write_text(f"ALLOWED_USERS=1\n{line}\n")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_several_unknown_names_in_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ALLOWED_USER=1\nDOWNLOAD_CONECTIONS=4\n")
    with pytest.raises(
        SettingsError,
        match=r"ALLOWED_USER \(did you mean ALLOWED_USERS\?\), "
        r"DOWNLOAD_CONECTIONS \(did you mean DOWNLOAD_CONNECTIONS\?\) are not settings",
    ):
        load_settings()


def test_bot_api_server_settings_may_share_the_dotenv(tmp_path: Path) -> None:
    """The compose file's local Bot API server reads its API id and hash from the same .env."""
    (tmp_path / ".env").write_text("TELEGRAM_API_ID=12345\nTELEGRAM_API_HASH=0123abcd\n")
    assert load_settings() == Settings(_env_file=None)


def test_every_name_the_compose_file_reads_from_the_dotenv_is_accepted_there(
    tmp_path: Path,
) -> None:
    """docs/scale.md has POSTGRES_PASSWORD put in .env beside the bot's settings; Compose reads
    ``${NAME}`` values from that file. Each such name is a setting or another program's, never
    "not a setting" (which stopped the bot from starting)."""
    compose = (Path(__file__).resolve().parents[1] / "deploy" / "docker-compose.yml").read_text()
    names = set(re.findall(r"\$\{([A-Z0-9_]+)", compose))
    assert {"POSTGRES_PASSWORD", "ERRAND_FFMPEG"} <= names
    (tmp_path / ".env").write_text(
        "".join(f"{name}=x\n" for name in sorted(names - setting_names()))
    )
    assert load_settings() == Settings(_env_file=None)


def test_environment_near_miss_is_reported_but_unrelated_variables_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")  # set by systemd, nothing to do with us
    monkeypatch.setenv("HOSTNAME", "vps")
    assert load_settings().token is None
    monkeypatch.setenv("ALLOWED_USER", "1")
    with pytest.raises(
        SettingsError, match=r"^in the environment: ALLOWED_USER \(did you mean ALLOWED_USERS\?\)"
    ):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BOT_TOKEN", "123456789:AAEabcdefgh   # from @BotFather"),
        ("ALLOWED_USERS", "11111111,22222222 # people and groups"),
        ("DEFAULT_TZ", "Europe/Berlin\t# for reminders"),
        ("WEBHOOK_SECRET", "0f3c9a # Telegram sends it with every update"),
    ],
)
def test_value_ending_in_a_comment_is_pointed_out(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """What systemd's EnvironmentFile and `docker run --env-file` hand over for a line with a
    comment after the value: the comment is part of the value."""
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/hook")
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{name}: the value ends in what looks like a comment ('#")
    assert "put the comment on its own line" in message
    assert "AAEabcdefgh" not in message and "0f3c9a" not in message  # never the value itself


def test_hash_inside_a_value_is_not_a_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/hook#part")
    monkeypatch.setenv("WEBHOOK_SECRET", "abc#def")
    assert load_settings().webhook_url == "https://bot.example.org/hook#part"


def test_secret_value_is_never_repeated_in_a_bad_value_message() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(bot_token=12345)
    assert "12345" not in str(info.value)
