"""User-facing text of the chat layer that is not tied to one feature: greeting, help, refusals.

The command list here is the single source for ``/help`` and for the menu registered with
``setMyCommands``, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_, _
from bot.reminders.store import ReminderKind


@dataclass(frozen=True)
class CommandInfo:
    """One command; ``usage``, ``description`` and ``example`` are English, translated when
    shown."""

    name: str
    usage: str
    description: str
    example: str


COMMANDS: tuple[CommandInfo, ...] = (
    CommandInfo(
        "download",
        N_("/download URL [name]"),
        N_("fetch a file with several connections and send it here"),
        N_("/download https://example.com/file.iso"),
    ),
    CommandInfo(
        "downloads", "/downloads", N_("your active, queued and recent downloads"), "/downloads"
    ),
    CommandInfo(
        "timer",
        N_("/timer DURATION [label]"),
        N_("count down and ring (a bare number is seconds)"),
        N_("/timer 5m tea"),
    ),
    CommandInfo(
        "remind",
        N_("/remind WHEN TEXT"),
        N_("a reminder at a time, once or every day/week/…"),
        N_("/remind tomorrow 9am standup"),
    ),
    CommandInfo(
        "timers",
        "/timers",
        N_("pending timers and reminders in this chat (also /reminders)"),
        "/timers",
    ),
    CommandInfo(
        "cancel",
        N_("/cancel ID"),
        N_("cancel a download (d7) or a timer/reminder (t12)"),
        "/cancel t12",
    ),
    CommandInfo("tz", N_("/tz [ZONE]"), N_("show or set your time zone"), "/tz Europe/Berlin"),
    CommandInfo("lang", "/lang [zh|en|auto]", N_("show or choose the reply language"), "/lang zh"),
    CommandInfo("stats", "/stats", N_("uptime, queue, disk (bot admins only)"), "/stats"),
    CommandInfo("help", "/help", N_("this list"), "/help"),
    CommandInfo("start", "/start", N_("what Errand does"), "/start"),
)

START = N_(
    "👋 I'm Errand. I run errands for this chat:\n"
    "• /download URL — I fetch the file with several connections at once and send it here.\n"
    "• /timer 5m or /remind tomorrow 9am standup — I ring on time, even after a restart.\n"
    "Send /help for every command. Language: /lang"
)


def help_text(available: set[str] | None = None) -> str:
    """Every command with its syntax and one example; ones not available yet are marked."""
    lines = [_("Commands:")]
    for info in COMMANDS:
        soon = "" if available is None or info.name in available else " " + _("(coming soon)")
        lines.append(
            _("{usage} — {description}{soon}\n    e.g. {example}").format(
                usage=_(info.usage),
                description=_(info.description),
                soon=soon,
                example=_(info.example),
            )
        )
    return "\n".join(lines)


def refusal(user_id: int | None, chat_id: int | None, private: bool) -> str:
    """Why a stranger is turned away, with the ids the owner needs to let them in.

    ``user_id`` is None for someone writing as a chat (an anonymous admin): only the chat's id
    means anything then.
    """
    if user_id is None:
        ids = _("This chat's id is {chat_id}.").format(chat_id=chat_id)
    elif private:
        ids = _("Your user id is {user_id}.").format(user_id=user_id)
    else:
        ids = _("Your user id is {user_id} and this chat's id is {chat_id}.").format(
            user_id=user_id, chat_id=chat_id
        )
    return _(
        "Sorry, this bot is private. {ids} Ask the bot's owner to add it to ALLOWED_USERS."
    ).format(ids=ids)


def display_name(sender) -> str:
    """How a sender is named in messages: ``@username``, else a first name or a chat's title.

    ``sender`` is a User, or a Chat for an anonymous group admin or a channel
    (``effective_sender``).
    """
    if sender is None:
        return _("someone")
    if sender.username:
        return f"@{sender.username}"
    return getattr(sender, "first_name", None) or getattr(sender, "title", None) or _("someone")


def kind_word(kind: str) -> str:
    """A reminder row's ``kind`` (``timer``/``reminder``) as a word of the reader's language."""
    words: dict[str, str] = {ReminderKind.TIMER: _("timer"), ReminderKind.REMINDER: _("reminder")}
    return words.get(kind, kind)


def internal_error(reference: str) -> str:
    return _(
        "Something went wrong on my side (ref {reference}). Please try again; if it keeps "
        "happening, tell the bot's owner that reference."
    ).format(reference=reference)
