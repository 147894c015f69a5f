"""User-facing text of the chat layer that is not tied to one feature: greeting, help, refusals.

The command list here is the single source for ``/help`` and for the menu registered with
``setMyCommands``, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandInfo:
    name: str
    usage: str
    description: str
    example: str


COMMANDS: tuple[CommandInfo, ...] = (
    CommandInfo("download", "/download URL [name]", "fetch a file with several connections and send it here",
                "/download https://example.com/file.iso"),
    CommandInfo("downloads", "/downloads", "your active, queued and recent downloads", "/downloads"),
    CommandInfo("timer", "/timer DURATION [label]", "count down and ring (a bare number is seconds)",
                "/timer 5m tea"),
    CommandInfo("remind", "/remind WHEN TEXT", "a reminder at a time, once or every day/week/…",
                "/remind tomorrow 9am standup"),
    CommandInfo("timers", "/timers", "pending timers and reminders in this chat (also /reminders)", "/timers"),
    CommandInfo("cancel", "/cancel ID", "cancel a download (d7) or a timer/reminder (t12)", "/cancel t12"),
    CommandInfo("tz", "/tz [ZONE]", "show or set your time zone", "/tz Europe/Berlin"),
    CommandInfo("stats", "/stats", "uptime, queue, disk (bot admins only)", "/stats"),
    CommandInfo("help", "/help", "this list", "/help"),
    CommandInfo("start", "/start", "what Errand does", "/start"),
)

START = (
    "👋 I'm Errand. I run errands for this chat:\n"
    "• /download URL — I fetch the file with several connections at once and send it here.\n"
    "• /timer 5m or /remind tomorrow 9am standup — I ring on time, even after a restart.\n"
    "Send /help for every command."
)


def help_text(available: set[str] | None = None) -> str:
    """Every command with its syntax and one example; ones not available yet are marked."""
    lines = ["Commands:"]
    for info in COMMANDS:
        soon = "" if available is None or info.name in available else " (coming soon)"
        lines.append(f"{info.usage} — {info.description}{soon}\n    e.g. {info.example}")
    return "\n".join(lines)


def refusal(user_id: int | None, chat_id: int | None, private: bool) -> str:
    """Why a stranger is turned away, with the ids the owner needs to let them in.

    ``user_id`` is None for someone writing as a chat (an anonymous admin): only the chat's id
    means anything then.
    """
    if user_id is None:
        ids = f"This chat's id is {chat_id}"
    else:
        ids = f"Your user id is {user_id}" + ("" if private else f" and this chat's id is {chat_id}")
    return f"Sorry, this bot is private. {ids}. Ask the bot's owner to add it to ALLOWED_USERS."


def display_name(sender) -> str:
    """How a sender is named in messages: ``@username``, else a first name or a chat's title.

    ``sender`` is a User, or a Chat for an anonymous group admin or a channel (``effective_sender``).
    """
    if sender is None:
        return "someone"
    if sender.username:
        return f"@{sender.username}"
    return getattr(sender, "first_name", None) or getattr(sender, "title", None) or "someone"


def internal_error(reference: str) -> str:
    return (
        f"Something went wrong on my side (ref {reference}). Please try again; if it keeps "
        "happening, tell the bot's owner that reference."
    )
