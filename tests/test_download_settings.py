"""The download settings read without pydantic: same names, defaults and bounds as bot.config, and
either the same values as the full check or no answer (the CLI then runs the full check)."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest
from annotated_types import Ge, Gt, Le

from bot.config import Settings, SettingsError, load_settings, setting_names
from bot.download_settings import SETTING_NAMES, DownloadSettings, read_download_settings

EXAMPLE = Path(__file__).parents[1] / ".env.example"


def test_the_names_are_the_settings_names() -> None:
    assert SETTING_NAMES == setting_names()


@pytest.mark.parametrize("spec", fields(DownloadSettings), ids=lambda f: f.name)
def test_defaults_and_bounds_are_the_settings_own(spec) -> None:
    declared = Settings.model_fields[spec.name]
    assert spec.default == declared.get_default(call_default_factory=True)
    bounds = {
        key: getattr(item, key)
        for item in declared.metadata
        for cls, key in ((Ge, "ge"), (Gt, "gt"), (Le, "le"))
        if isinstance(item, cls)
    }
    assert {k: v for k, v in spec.metadata.items() if k != "parse"} == bounds


def _both(monkeypatch, tmp_path: Path, env: dict[str, str], dotenv: str | None = None):
    """(quick reader's answer, full check's settings or None when it refused) for one setup."""
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    quick = read_download_settings()
    try:
        full = load_settings()
    except SettingsError:
        full = None
    return quick, full


def _same(quick: DownloadSettings, full: Settings) -> None:
    for spec in fields(DownloadSettings):
        assert getattr(quick, spec.name) == getattr(full, spec.name), spec.name


BENCH = {
    "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8",
    "MAX_FILE_MB": "1000000",
    "DISK_RESERVE_MB": "0",
    "DOWNLOAD_CONNECTIONS": "16",
}


@pytest.mark.parametrize(
    ("env", "dotenv"),
    [
        ({}, None),
        ({"PATH": "/usr/bin", "HOME": "/root", "LANG": "C.UTF-8"}, None),
        (BENCH, None),
        ({"download_connections": "4", "media_extract": "False"}, None),
        (
            {
                "DOWNLOAD_CA_BUNDLE": "/etc/ssl/private-ca.pem",
                "DOWNLOAD_MIN_SPEED_KIB": "0.5",
                "DOWNLOAD_TIME_LIMIT_MINUTES": "0",
                "MEDIA_MAX_HEIGHT": "144",
            },
            None,
        ),
        ({}, "DOWNLOAD_CONNECTIONS=8\nDOWNLOAD_ALLOW_NETWORKS=10.0.0.0/8, ::1/128\n"),
        ({"DOWNLOAD_CONNECTIONS": "2"}, "DOWNLOAD_CONNECTIONS=8\n"),
        ({}, "BOT_TOKEN=\nALLOWED_USERS=\nTELEGRAM_API_ID=12345\nDOWNLOAD_MAX_RETRIES=0\n"),
    ],
    ids=[
        "nothing",
        "unrelated-env",
        "bench",
        "lower-case",
        "values",
        "dotenv",
        "env-over-dotenv",
        "empty-others",
    ],
)
def test_plain_download_settings_are_read_quickly_and_the_same(
    monkeypatch, tmp_path, env, dotenv
) -> None:
    quick, full = _both(monkeypatch, tmp_path, env, dotenv)
    assert quick is not None and full is not None
    _same(quick, full)


@pytest.mark.parametrize(
    ("env", "dotenv", "refused"),
    [
        (
            {"ALLOWED_USERS": "42"},
            None,
            False,
        ),  # another setting has a value: the full check reads it
        ({}, "BOT_TOKEN=123:abc\n", False),
        ({}, "EXAMPLE", False),  # .env.example copied: other settings written out at their defaults
        ({"ALLOWED_USERS": "x"}, None, True),
        ({"ALLOWED_USER": "1"}, None, True),  # near miss in the environment
        ({}, "DOWNLOAD_CONECTIONS=4\n", True),  # misspelt in .env
        ({}, "FROBNICATE=1\n", True),
        ({"DOWNLOAD_CONNECTIONS": "17"}, None, True),
        ({"DOWNLOAD_CONNECTIONS": "0"}, None, True),
        ({"DOWNLOAD_READ_TIMEOUT": "0"}, None, True),
        ({"DOWNLOAD_CONNECTIONS": "8 # fewer"}, None, True),
        ({"DOWNLOAD_ALLOW_NETWORKS": "10.0.0.0/33"}, None, True),
        ({"MEDIA_EXTRACT": "maybe"}, None, True),
        ({"DOWNLOAD_CONNECTIONS": " 8"}, None, False),  # pydantic takes it; this reader leaves it
        ({"MAX_FILE_MB": "1_000"}, None, False),
        ({"DOWNLOAD_READ_TIMEOUT": "1e3"}, None, False),
        ({"DOWNLOAD_CONNECTIONS": "4", "download_connections": "5"}, None, False),
    ],
)
def test_anything_else_is_left_to_the_full_check(
    monkeypatch, tmp_path, env, dotenv, refused
) -> None:
    quick, full = _both(
        monkeypatch, tmp_path, env, EXAMPLE.read_text() if dotenv == "EXAMPLE" else dotenv
    )
    assert quick is None
    assert (full is None) == refused
