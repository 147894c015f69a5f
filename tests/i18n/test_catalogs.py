"""The catalogs are complete and consistent with the code.

- every string marked in the code (``_()``, ``ngettext()``, ``N_()``) is in every catalog;
- every Chinese entry is translated, and none is fuzzy (a changed English text that still needs
  its translation looked at);
- a translation has exactly the ``{placeholders}`` of its English text;
- no text is handed to Telegram in the chat layer without going through the catalog.

Each check is a function that returns the problems it finds; the last tests feed them broken
catalogs and code to show that they do find them.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot import i18n

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "bot" / "locales"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def catalogs() -> dict[str, Catalog]:
    found = {}
    for po in sorted(LOCALES.glob("*/LC_MESSAGES/errand.po")):
        with po.open("rb") as f:
            found[po.parent.parent.name] = read_po(f)
    return found


def marked_in_code(package: Path = ROOT / "bot") -> dict[str, str]:
    """Every marked English text in ``package`` → where it is."""
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        package, method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else message[0]
        found.setdefault(key, f"{filename}:{lineno}")
    return found


def missing_from(catalog: Catalog, marked: dict[str, str]) -> list[str]:
    return [f"{where}: {text!r}" for text, where in marked.items() if catalog.get(text) is None]


def untranslated_or_fuzzy(catalog: Catalog) -> list[str]:
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    return problems


def _fields(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        return {f"<unparseable: {exc}>"}


def placeholder_mismatches(catalog: Catalog) -> list[str]:
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        wanted = set().union(*(_fields(text) for text in ids))
        for translated in strings:
            if translated and _fields(translated) != wanted:
                problems.append(
                    f"{ids[0]!r}: {sorted(_fields(translated))} instead of {sorted(wanted)}"
                )
    return problems


#: Methods that put text in front of people, and the argument holding it.
_SENDERS = {
    "reply_text": 0,
    "send_message": 1,
    "edit_message_text": 0,
    "edit_text": 0,
    "answer": 0,
    "InlineKeyboardButton": 0,
    "BotCommand": 1,
    "send_document": None,
}


def unwrapped_texts(source: str, filename: str) -> list[str]:
    """Literal text (a string or f-string containing letters) handed straight to Telegram."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name not in _SENDERS:
            continue
        position = _SENDERS[name]
        candidates = [kw.value for kw in node.keywords if kw.arg in ("text", "caption")]
        if position is not None and len(node.args) > position:
            candidates.append(node.args[position])
        for arg in candidates:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                words = arg.value
            elif isinstance(arg, ast.JoinedStr):  # the fixed parts of an f-string, not its values
                words = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
            else:
                continue
            if any(ch.isalpha() for ch in words):
                problems.append(f"{filename}:{node.lineno}: {ast.unparse(arg)[:80]}")
    return problems


def test_every_marked_string_is_in_every_catalog() -> None:
    marked = marked_in_code()
    assert len(marked) > 40
    for code, catalog in catalogs().items():
        assert missing_from(catalog, marked) == [], f"run `make i18n` and translate ({code})"


def test_chinese_catalog_is_complete_and_not_fuzzy() -> None:
    assert "zh" in catalogs()
    for code, catalog in catalogs().items():
        assert untranslated_or_fuzzy(catalog) == [], code


def test_placeholders_match_the_english_text() -> None:
    for code, catalog in catalogs().items():
        assert placeholder_mismatches(catalog) == [], code


def test_chat_layer_hands_telegram_no_text_outside_the_catalog() -> None:
    problems = []
    for path in sorted((ROOT / "bot" / "telegram").rglob("*.py")):
        problems += unwrapped_texts(path.read_text(), str(path.relative_to(ROOT)))
    assert problems == []


def shadowed_gettext(source: str, filename: str) -> list[str]:
    """Functions that assign to ``_`` in a module that translates with it: the name is local to
    the whole function then, and every ``_()`` in it fails at run time."""
    tree = ast.parse(source)
    if "_" not in {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }:
        return []
    problems = []
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Name)
                    and node.id == "_"
                    and isinstance(node.ctx, ast.Store)
                ):
                    problems.append(f"{filename}:{node.lineno} in {func.name}()")
    return problems


def test_no_function_hides_the_gettext_function() -> None:
    problems = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        problems += shadowed_gettext(path.read_text(), str(path.relative_to(ROOT)))
    assert problems == []
    assert shadowed_gettext(
        "from bot.i18n import _\ndef f(x):\n    a, _, b = x\n    return _('hi')\n", "x.py"
    )


def test_the_loaded_languages_are_the_catalogs_plus_english() -> None:
    assert set(i18n.available()) == {"en", *catalogs()}
    with i18n.use("zh"):
        assert i18n._("this list") == "本列表"
    assert i18n._("this list") == "this list"


# --- the checks themselves find what they are for -------------------------------------------


def _catalog(*entries: tuple, fuzzy: tuple[str, ...] = ()) -> Catalog:
    catalog = Catalog(locale="zh")
    for msgid, msgstr in entries:
        catalog.add(msgid, msgstr, flags=("fuzzy",) if msgid in fuzzy else ())
    return catalog


def test_checks_catch_a_missing_an_untranslated_a_fuzzy_and_a_placeholder_mismatch() -> None:
    marked = {"Cancelled {ref}.": "x.py:1", "New text": "x.py:2"}
    catalog = _catalog(
        ("Cancelled {ref}.", "已取消 {编号}。"), ("Old", ""), ("Soon", "即将"), fuzzy=("Soon",)
    )
    assert missing_from(catalog, marked) == ["x.py:2: 'New text'"]
    assert untranslated_or_fuzzy(catalog) == ["untranslated: 'Old'", "fuzzy: 'Soon'"]
    assert placeholder_mismatches(catalog) == ["'Cancelled {ref}.': ['编号'] instead of ['ref']"]
    plural = _catalog((("{n} more", "{n} more"), ("还有 {count} 个",)))
    assert placeholder_mismatches(plural) == ["'{n} more': ['count'] instead of ['n']"]


@pytest.mark.parametrize(
    "source, found",
    [
        ('await m.reply_text("Done.")', 1),
        ('await m.reply_text(f"Cancelled {ref}.")', 1),
        ('await bot.send_message(chat, "Hi", reply_markup=k)', 1),
        ('InlineKeyboardButton("Cancel", callback_data="x")', 1),
        ('await m.reply_text(_("Done."))', 0),
        ("await m.reply_text(text)", 0),
        ('await m.reply_text(f"{head}\\n{body}")', 0),
        ('await m.reply_document(d, caption=f"✅ {size}")', 0),
        ('await bot.send_document(chat, d, caption=f"Saved {size}")', 1),
    ],
)
def test_unwrapped_text_check(source: str, found: int) -> None:
    assert len(unwrapped_texts(source, "x.py")) == found
