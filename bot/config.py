"""Settings: read once from the environment and a ``.env`` file, validated, then passed around.

Every setting an operator can change lives here, with its default, so that ``.env.example``,
the README table and the code cannot drift apart silently (a test compares them). A bad value
stops start-up with one line naming the setting (:class:`SettingsError`), never a traceback.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot import settings_words
from bot.download_settings import parse_networks


class SettingsError(Exception):
    """A setting has a bad value; ``str()`` is the one line shown to the operator."""


@dataclass(frozen=True)
class IdList:
    """``ALLOWED_USERS`` / ``ADMIN_USERS``: a set of user or chat ids, or everyone (``*``)."""

    ids: frozenset[int] = frozenset()
    everyone: bool = False

    def __contains__(self, item: object) -> bool:
        return self.everyone or item in self.ids

    @classmethod
    def parse(cls, raw: str | None) -> IdList:
        text = (raw or "").strip()
        if not text:
            return cls()
        if text == "*":
            return cls(everyone=True)
        ids = set()
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                ids.add(int(part))
            except ValueError:
                raise ValueError(
                    f"{part!r} is not a numeric id (use ids separated by commas, or *)"
                ) from None
        return cls(ids=frozenset(ids))


class Settings(BaseSettings):
    """All of Errand's configuration. Field names are the environment names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `SETTING=` as in .env.example means "use the default"
        extra="ignore",
        case_sensitive=False,
    )

    # --- Telegram ---
    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_local_mode: bool = False
    allowed_users: Annotated[IdList, NoDecode] = Field(default_factory=IdList)
    admin_users: Annotated[IdList, NoDecode] = Field(default_factory=IdList)
    log_level: str = "INFO"

    # --- storage ---
    data_dir: Path = Path("./data")
    download_dir: Path | None = None
    database_url: str | None = None
    run_worker: bool = True

    # --- downloads ---
    download_allow_networks: Annotated[tuple[Any, ...], NoDecode] = ()
    download_connections: int = Field(16, ge=1, le=16)
    download_read_timeout: float = Field(30.0, gt=0)
    download_max_retries: int = Field(5, ge=0, le=100)
    max_file_mb: int = Field(4096, ge=1)
    max_upload_mb: int = Field(50, ge=1, le=2000)
    max_active_downloads: int = Field(3, ge=1, le=64)
    max_active_per_user: int = Field(2, ge=1, le=64)
    daily_quota_mb: int = Field(10240, ge=0)
    disk_reserve_mb: int = Field(1024, ge=0)
    progress_interval: float = Field(3.0, ge=1.0)
    retention_hours: float = Field(24.0, gt=0)
    public_base_url: str | None = None
    download_connect_timeout: float = Field(10.0, gt=0)
    download_probe_timeout: float = Field(30.0, gt=0)
    download_min_speed_kib: float = Field(1.0, ge=0)
    download_min_speed_window: float = Field(60.0, gt=0)
    download_time_limit_minutes: float = Field(360.0, ge=0)
    download_ca_bundle: Path | None = None

    # --- media pages (yt-dlp; see bot/media) ---
    media_extract: bool = True
    media_max_height: int = Field(1080, ge=144, le=4320)
    media_playlist_max: int = Field(10, ge=1, le=100)
    media_extract_timeout: float = Field(60.0, gt=0)
    media_choice_wait: float = Field(60.0, ge=1, le=3600)

    # --- timers and reminders ---
    default_tz: str = "UTC"
    missed_grace_hours: float = Field(24.0, ge=0)
    max_pending_per_user: int = Field(50, ge=1)
    max_duration_days: float = Field(366.0, gt=0)
    min_recurrence_minutes: float = Field(5.0, gt=0)

    # --- webhook (polling when WEBHOOK_URL is unset) ---
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:8080"
    webhook_secret: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_comments(cls, data: Any) -> Any:
        """``BOT_TOKEN=123:AAE...   # from @BotFather`` reaches us whole through systemd's
        EnvironmentFile or ``docker --env-file``; say so rather than "not a token"."""
        if isinstance(data, dict):
            for key, value in data.items():
                problem = (
                    settings_words.inline_comment_problem(str(key).upper(), value)
                    if isinstance(value, str)
                    else None
                )
                if problem:
                    raise ValueError(problem)
        return data

    @field_validator("allowed_users", "admin_users", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> IdList:
        if isinstance(value, IdList):
            return value
        return IdList.parse(None if value is None else str(value))

    @field_validator("download_allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> tuple[Any, ...]:
        return parse_networks(value)

    @field_validator("telegram_api_url", "public_base_url", "webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        head, sep, tail = token.partition(":")
        if not (sep and head.isdigit() and tail and all(c.isalnum() or c in "-_" for c in tail)):
            raise ValueError("does not look like a token from @BotFather (digits:letters)")
        return SecretStr(token)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{value!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("default_tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            # Without a secret, anyone who finds the URL could post forged updates.
            raise ValueError(
                "WEBHOOK_SECRET: required when WEBHOOK_URL is set "
                "(any random string of A-Z, a-z, 0-9, _ and -)"
            )
        if self.download_dir is None:
            self.download_dir = self.data_dir / "downloads"
        return self

    # --- derived values ---
    @property
    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token else None

    @property
    def downloads_path(self) -> Path:
        assert self.download_dir is not None
        return self.download_dir

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'errand.db').resolve()}"

    @property
    def uses_postgres(self) -> bool:
        """PostgreSQL mode: several processes may share the database (bot.work.role)."""
        scheme = self.db_url.partition(":")[0].partition("+")[0]
        return scheme in ("postgres", "postgresql")

    @property
    def listen_host_port(self) -> tuple[str, int]:
        host, _, port = self.webhook_listen.rpartition(":")
        return host.strip("[]"), int(port)


#: The settings whose value is never repeated in a message.
SECRET_SETTINGS = frozenset({"BOT_TOKEN", "WEBHOOK_SECRET"})


def setting_names() -> frozenset[str]:
    """Every setting's name as written in the environment or .env."""
    return frozenset(name.upper() for name in Settings.model_fields)


def _misspelt(env_file: Any) -> str | None:
    """A line naming settings that do not exist, with the closest real name, or None.

    Every name in the settings file counts; in the process environment only near misses of a
    setting do (it holds PATH, HOME and the like too).
    """
    known = setting_names()
    if env_file and Path(env_file).is_file():
        found = settings_words.unknown_names(
            dotenv_values(env_file).keys(), known, only_typos=False
        )
        if found:
            return settings_words.unknown_names_problem(str(env_file), found)
    found = settings_words.unknown_names(os.environ.keys(), known, only_typos=True)
    if found:
        return settings_words.unknown_names_problem("the environment", found)
    return None


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings; raise :class:`SettingsError` with one line naming the setting."""
    problem = _misspelt(overrides.get("_env_file", Settings.model_config.get("env_file")))
    if problem:
        raise SettingsError(problem)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err.get("loc"):  # a check across settings names its setting itself
            msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            raise SettingsError(msg) from None
        field = str(err["loc"][0])
        name = field.upper()
        raise SettingsError(
            settings_words.describe_error(
                name, err, Settings.model_fields.get(field), name in SECRET_SETTINGS
            )
        ) from None
    return settings


def prepare_dirs(settings: Settings) -> None:
    """Create DATA_DIR and DOWNLOAD_DIR and prove they are writable, or raise SettingsError."""
    for name, path in (("DATA_DIR", settings.data_dir), ("DOWNLOAD_DIR", settings.downloads_path)):
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
                pass
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise SettingsError(
                f"{name}: {str(path)!r} is not a writable directory ({reason})"
            ) from None
