"""Stored /lang choices: per person and per chat, cached, moved with an upgraded group."""

from __future__ import annotations

from pathlib import Path

from bot.i18n.store import LanguageChoices, Scope
from bot.storage import open_database


def test_choices_survive_a_new_store_and_move_with_the_group(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'errand.db'}"
    engine, sessions = open_database(url)
    choices = LanguageChoices(sessions)
    assert choices.get(Scope.PERSON, 42) is None
    choices.set(Scope.PERSON, 42, "zh")
    choices.set(Scope.CHAT, -100, "zh")
    choices.set(Scope.CHAT, -200, "en")
    assert choices.get(Scope.CHAT, 42) is None  # a person's choice is not a chat's
    choices.move_chat(-100, -1001)
    choices.move_chat(-300, -1003)  # nothing chosen there: nothing to move
    choices.move_chat(-200, -1001)  # the new id has its own choice already: kept
    engine.dispose()

    engine, sessions = open_database(url)
    fresh = LanguageChoices(sessions)
    assert fresh.get(Scope.PERSON, 42) == "zh"
    assert fresh.get(Scope.CHAT, -1001) == "zh" and fresh.get(Scope.CHAT, -1003) is None
    fresh.set(Scope.PERSON, 42, None)  # /lang auto
    assert fresh.get(Scope.PERSON, 42) is None
    assert LanguageChoices(sessions).get(Scope.PERSON, 42) is None
    engine.dispose()
