"""The reply language of each update, chosen once before any handler runs.

Like aiogram's i18n middleware: a :class:`~telegram.ext.TypeHandler` in the earliest handler group
works out the language and puts it in :mod:`bot.i18n`'s context variable, where every ``_()`` of
the handlers that follow (and of the error handler) finds it. python-telegram-bot handles each
update in its own task, so one update's language never leaks into another's.

Which language:

1. in a group, the group's own ``/lang`` choice, if an admin made one;
2. the sender's own ``/lang`` choice;
3. the sender's Telegram ``language_code``, when a catalog fits it (``zh``, ``zh-hans``, ``zh-cn``,
   ``zh-sg`` → ``zh``);
4. English.

Rows created while an update is handled (a reminder, a download) are stamped with its language,
so the ring or the file sent long afterwards, from no update, speaks it too (:func:`stamp_rows`).
"""

from __future__ import annotations

from sqlalchemy import event
from telegram import BotCommand, Chat, Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot import i18n
from bot.i18n.store import LanguageChoices, Scope
from bot.telegram.permissions import sender_id
from bot.telegram.services import Services, required, services_of

LANGUAGE_GROUP = (
    -300
)  # before everything (chats -200, the gate -100): a stranger is refused in their own language


def choices_of(services: Services) -> LanguageChoices:
    return required(services.languages)


def resolve(update: Update, choices: LanguageChoices) -> tuple[str, str]:
    """The language code for ``update`` and where it came from: ``chat``, ``person``,
    ``telegram`` or ``default``."""
    chat, user = update.effective_chat, update.effective_user
    if chat is not None and chat.type != Chat.PRIVATE:
        code = choices.get(Scope.CHAT, chat.id)
        if code in i18n.available():
            return code, "chat"
    if update.effective_sender is not None:
        code = choices.get(Scope.PERSON, sender_id(update))
        if code in i18n.available():
            return code, "person"
    code = i18n.by_tag(user.language_code if user is not None else None)
    if code is not None and code != i18n.DEFAULT:
        return code, "telegram"
    return i18n.DEFAULT, "default"


async def choose_language(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if isinstance(update, Update):
        code, _source = resolve(update, choices_of(services_of(context)))
        i18n.activate(code)


def stamp_rows(*models: type) -> None:
    """Give every new row of ``models`` (with a ``lang`` column) the current reply language."""
    for model in models:
        if not event.contains(model, "before_insert", _stamp):
            event.listen(model, "before_insert", _stamp)


def _stamp(_mapper, _connection, target) -> None:
    if getattr(target, "lang", None) is None:
        target.lang = i18n.current().code


def command_menu(commands, code: str) -> list[BotCommand]:
    """The ``setMyCommands`` list in language ``code``: ``commands`` are (name, English text)."""
    with i18n.use(code):
        return [BotCommand(name, i18n._(description)) for name, description in commands]


async def set_menus(app: Application, commands) -> None:
    """Register the command menu in English (the default) and once per catalog, for the Telegram
    clients whose language it fits (``language_code="zh"``)."""
    await app.bot.set_my_commands(command_menu(commands, i18n.DEFAULT))
    for code in i18n.available():
        if code != i18n.DEFAULT:
            await app.bot.set_my_commands(command_menu(commands, code), language_code=code)


def register(app: Application, services: Services) -> None:
    from bot.downloads.jobs import DownloadJob
    from bot.reminders.store import Reminder

    services.languages = LanguageChoices(services.sessions)
    stamp_rows(Reminder, DownloadJob)
    app.add_handler(TypeHandler(Update, choose_language), group=LANGUAGE_GROUP)
