"""The language is chosen before any other handler group runs, alone in its group."""

from __future__ import annotations

from pathlib import Path

from telegram.ext import TypeHandler

from bot.config import Settings, prepare_dirs
from bot.telegram.app import build_application
from bot.telegram.i18n import LANGUAGE_GROUP, choose_language


def test_language_group_is_first_and_alone(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, bot_token="123:abc", data_dir=tmp_path, allowed_users="42")
    prepare_dirs(settings)
    app = build_application(settings)
    try:
        assert min(app.handlers) == LANGUAGE_GROUP
        [handler] = app.handlers[LANGUAGE_GROUP]
        assert isinstance(handler, TypeHandler) and handler.callback is choose_language
    finally:
        app.bot_data["engine"].dispose()
