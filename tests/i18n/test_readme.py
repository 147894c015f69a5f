"""README.zh-CN.md is linked from the top of README.md and keeps up with its tables."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table_names(text: str) -> set[str]:
    """The first cell's code of every table row: settings, commands."""
    return {m.group(1) for m in re.finditer(r"^\| `([^`]+)`", text, re.MULTILINE)}


def _defaults(text: str) -> dict[str, str]:
    """Each setting's default where it is a value in code (``16``), not words."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([A-Z][A-Z0-9_]+)` \| (`[^`]*`) \|", text, re.MULTILINE)
    }


def test_chinese_readme_is_linked_at_the_top_and_lists_every_setting() -> None:
    english = (ROOT / "README.md").read_text()
    chinese = (ROOT / "README.zh-CN.md").read_text()
    assert "(README.zh-CN.md)" in "\n".join(english.splitlines()[:5])
    settings = {name for name in _table_names(english) if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}
    assert len(settings) > 20
    assert sorted(settings - _table_names(chinese)) == []
    chinese_defaults = _defaults(chinese)
    assert len(_defaults(english)) > 15
    assert {k: v for k, v in _defaults(english).items() if chinese_defaults.get(k) != v} == {}
    commands = {name.split()[0] for name in _table_names(english) if name.startswith("/")}
    chinese_commands = {name.split()[0] for name in _table_names(chinese) if name.startswith("/")}
    assert sorted(commands - chinese_commands) == []
