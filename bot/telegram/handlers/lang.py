"""``/lang``: show or choose the reply language (``zh``, ``en``, ``auto``).

In a private chat it is the person's own choice. In a group it is the group's, for every reply
there, and only a group admin (or a bot admin, or an anonymous admin writing as the group) may
change it; without one, each person gets replies in their own language.
"""

from __future__ import annotations

from babel.lists import format_list
from telegram import Chat, Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import i18n
from bot.i18n import _
from bot.i18n.store import Scope
from bot.telegram.i18n import choices_of, resolve
from bot.telegram.permissions import may_act_for_group, sender_id
from bot.telegram.services import Services, services_of
from bot.telegram.update_parts import chat_of, message_of

AUTO = "auto"


def _choices_line() -> str:
    names = format_list(
        [f"/lang {code} ({lang.name})" for code, lang in i18n.available().items()],
        locale=i18n.current_locale(),
    )
    return _("Choose: {choices}, or /lang auto to follow your Telegram language.").format(
        choices=names
    )


def _parse(word: str) -> str | None:
    """A catalog code, ``auto``, or None when the word names no language we speak."""
    word = word.strip().lower()
    if word == AUTO:
        return AUTO
    if word in i18n.available():
        return word
    return i18n.by_tag(word)


def _current_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    code, source = resolve(update, choices_of(services_of(context)))
    name = i18n.language(code).name
    if source == "chat":
        head = _("This group's language is {language} (set by an admin).").format(language=name)
    elif source == "person":
        head = _("Your language is {language} (your choice).").format(language=name)
    else:
        head = _("Your language is {language} (automatic, from your Telegram settings).").format(
            language=name
        )
    return f"{head}\n{_choices_line()}"


async def lang_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat = message_of(update), chat_of(update)
    if not context.args:
        await message.reply_text(_current_text(update, context))
        return
    choice = _parse(context.args[0])
    if choice is None:
        await message.reply_text(
            _("“{word}” is not a language I speak.").format(word=context.args[0][:20])
            + "\n"
            + _choices_line()
        )
        return
    choices = choices_of(services_of(context))
    group = chat.type != Chat.PRIVATE
    if group and not await may_act_for_group(update, context):
        await message.reply_text(
            _(
                "Only a group admin can change this group's language. "
                "For your own, send /lang to me in a private chat."
            )
        )
        return
    code = None if choice == AUTO else choice
    if group:
        choices.set(Scope.CHAT, chat.id, code)
    else:
        choices.set(Scope.PERSON, sender_id(update), code)
    new_code, _source = resolve(update, choices)
    with i18n.use(new_code):
        name = i18n.current().name
        if group and code is None:
            text = _(
                "This group has no language of its own now: each person gets replies in theirs."
            )
        elif group:
            text = _("This group's language is now {language}.").format(language=name)
        elif code is None:
            text = _("Language: automatic, from your Telegram settings (now {language}).").format(
                language=name
            )
        else:
            text = _("Language set to {language}.").format(language=name)
        await message.reply_text(text)


def register(app: Application, services: Services) -> None:
    app.add_handler(CommandHandler("lang", lang_command))
