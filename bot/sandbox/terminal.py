"""``errandbot sandbox``: talk to the real bot in a terminal, with no token and no network.

It starts the Bot API emulator on loopback, runs the unchanged ``errandbot run`` in a child
process against it (fresh state in ``DATA_DIR/sandbox`` each run, or the last run's with
``--keep`` so that "rings after a restart" can be tried; log in ``DATA_DIR/sandbox/bot.log``), and
turns the terminal into a chat: what you type is sent as a user's message; the bot's messages,
edits (live progress) and buttons are printed as they happen. Lines starting with ``:`` steer the
sandbox itself (``:help`` lists them).

In a terminal, input has line editing and a history kept across runs (``readline``), and a bot
message that arrives while you type is printed *above* the prompt, which is then redrawn with
what you had typed so far.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from bot.config import Settings, prepare_dirs
from bot.sandbox.emulator import BotApiEmulator, Message

SANDBOX_USER = 1000
SANDBOX_GROUP = -1001
PROMPT = "> "
MAX_SLEEP = 60.0
IDS_FILE = "emulator-ids.json"  # where --keep continues numbering messages and updates
HELP = """Sandbox commands:
  :as USER            write as user USER in your private chat with the bot
  :as USER group ID   write as USER in group ID (negative, e.g. -1001)
  :admin              make the current user an administrator of the current group
  :lang CODE          make the current user's Telegram app speak CODE (zh, zh-hans, en; none)
  :press N            press button N of the newest message with buttons here
  :wait               wait for the bot to answer your last message
  :sleep N            watch the chat for N seconds (at most 60), e.g. for a timer to ring
  :quit               stop (Ctrl-D also works)
Anything else is sent as a chat message, e.g. /help or /timer 5."""


class TerminalChat:
    """Prints the bot's side of the conversation and sends the user's side to the emulator."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        out: TextIO,
        *,
        interactive: bool = False,
        max_sleep: float = MAX_SLEEP,
    ) -> None:
        self.emulator = emulator
        self.out = out
        self.interactive = interactive  # a person at a terminal prompt: redraw it after output
        self.max_sleep = max_sleep
        self.user = SANDBOX_USER
        self.chat = SANDBOX_USER
        self.last_sent: Message | None = None
        self._print_lock = threading.Lock()
        emulator.subscribe(self._on_bot_event)

    def _where(self, chat_id: int) -> str:
        return "private" if chat_id > 0 else f"group {chat_id}"

    def _on_bot_event(self, kind: str, message: Message) -> None:
        body = message.text if message.text is not None else ""
        if message.document:
            doc = message.document
            body = (
                f"📎 {doc['file_name']} ({doc['file_size']} bytes)\n{message.caption or ''}"
            ).rstrip()
        if message.media:  # sendVideo / sendAudio (a page's video, bot.media)
            media = message.media
            icon = "🎬" if media["kind"] == "video" else "🎵"
            size = f"{media['width']}x{media['height']}, " if media.get("width") else ""
            body = (
                f"{icon} {media['file_name']} "
                f"({size}{media.get('duration', '?')} s, {media['file_size']} bytes)"
                f"\n{message.caption or ''}"
            ).rstrip()
        mark = {
            "send": "bot",
            "edit": f"bot ✎ #{message.message_id}",
            "delete": f"bot ✗ #{message.message_id}",
        }[kind]
        lines = [
            f"[{self._where(message.chat_id)}] {mark}: {body}"
            if kind != "delete"
            else f"[{self._where(message.chat_id)}] {mark}"
        ]
        for number, button in enumerate(message.buttons, 1):
            lines.append(f"    [{number}] {button.get('text')}")
        self.show("\n".join(lines))

    def show(self, text: str) -> None:
        """Print ``text``; at an interactive prompt, above it, then redraw the prompt and what
        had been typed so far (otherwise the reply lands after "> " and the typing is lost)."""
        with self._print_lock:
            if not self.interactive:
                print(text, file=self.out, flush=True)
                return
            typed = _line_buffer()
            self.out.write(f"\r\x1b[K{text}\n{PROMPT}{typed}")
            self.out.flush()

    def handle(self, line: str) -> bool:
        """Act on one input line; False means quit."""
        line = line.rstrip("\n")
        if not line.strip():
            return True
        if line.startswith(":"):
            return self._meta(line[1:].split())
        self.last_sent = self.emulator.send_text(self.chat, self.user, line)
        return True

    def _meta(self, words: list[str]) -> bool:
        if not words or words[0] in ("help", "h", "?"):
            print(HELP, file=self.out)
        elif words[0] in ("quit", "q", "exit"):
            return False
        elif words[0] == "as" and len(words) in (2, 4) and _is_int(words[1]):
            self.user = int(words[1])
            if len(words) == 4 and words[2] == "group" and _is_int(words[3]) and int(words[3]) < 0:
                self.chat = int(words[3])
            elif len(words) == 2:
                self.chat = self.user
            else:
                print("A group id is negative, e.g. :as 42 group -1001", file=self.out)
            print(f"(you are now user {self.user} in {self._where(self.chat)})", file=self.out)
        elif words[0] == "admin" and self.chat < 0:
            self.emulator.set_member_status(self.chat, self.user, "administrator")
            print(f"(user {self.user} is now an administrator of {self.chat})", file=self.out)
        elif words[0] == "lang" and len(words) == 2:
            code = None if words[1] == "none" else words[1]
            self.emulator.set_user_language(self.user, code)
            print(
                f"(user {self.user}'s Telegram language is now {code or 'not given'})",
                file=self.out,
            )
        elif words[0] == "press" and len(words) == 2 and _is_int(words[1]):
            self._press(int(words[1]))
        elif words[0] == "wait":
            self.wait()
        elif words[0] == "sleep" and len(words) == 2 and words[1].replace(".", "", 1).isdigit():
            asked = float(words[1])
            if asked > self.max_sleep:
                print(
                    f"(watching for {self.max_sleep:g} s, the most :sleep waits; "
                    f"repeat it to watch longer)",
                    file=self.out,
                    flush=True,
                )
            time.sleep(min(asked, self.max_sleep))
        else:
            print("Unknown sandbox command; :help lists them.", file=self.out)
        return True

    def _press(self, number: int) -> None:
        with_buttons = [
            m for m in self.emulator.bot_messages(self.chat) if m.buttons and not m.deleted
        ]
        if not with_buttons:
            print("(no message with buttons here)", file=self.out)
            return
        message = with_buttons[-1]
        if not 1 <= number <= len(message.buttons):
            print(f"(that message has buttons 1 to {len(message.buttons)})", file=self.out)
            return
        query = self.emulator.press_button(message, self.user, index=number - 1)
        try:
            answer = self.emulator.wait_for(
                lambda: self.emulator.callback_answer(query), 5, "the button answer"
            )
        except TimeoutError:
            return
        if answer.get("text"):
            print(f"(button answer) {answer['text']}", file=self.out, flush=True)

    def wait(self, timeout: float = 10.0) -> None:
        """Wait until the bot has answered the last message sent (used by scripts)."""
        if self.last_sent is None:
            return
        sent = self.last_sent
        try:
            self.emulator.wait_for(
                lambda: any(
                    m.message_id > sent.message_id for m in self.emulator.bot_messages(sent.chat_id)
                ),
                timeout,
                "the bot's answer",
            )
        except TimeoutError:
            print("(no answer yet)", file=self.out)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _line_buffer() -> str:
    try:
        import readline
    except ImportError:  # pragma: no cover - platforms without readline
        return ""
    return readline.get_line_buffer()


def _enable_line_editing(history: Path) -> None:
    """Arrow keys, Ctrl-A/E, and ↑ for earlier lines (kept in ``history`` across runs)."""
    try:
        import atexit
        import readline
    except ImportError:  # pragma: no cover
        return
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(1000)
    atexit.register(lambda: _save_history(readline, history))


def _save_history(readline, history: Path) -> None:
    try:
        readline.write_history_file(history)
    except OSError:
        pass


def _first_ids(state: Path) -> tuple[int, int]:
    """Where the last kept run's emulator stopped numbering, so ids are never reused."""
    try:
        data = json.loads((state / IDS_FILE).read_text())
        return int(data["message_id"]), int(data["update_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1, 1


def run_sandbox(settings: Settings, script: str | None = None, keep: bool = False) -> int:
    """Run the sandbox until ``:quit`` or end of input; ``script`` reads lines from a file or ``-``.

    ``keep`` starts from the last run's state (timers, downloads, the database) instead of a
    fresh one; the emulator then goes on numbering messages and updates where it stopped.
    """
    prepare_dirs(settings)
    state = (settings.data_dir / "sandbox").resolve()
    if not keep:
        # The emulator's chats start empty every run, so the bot's state must too: message ids
        # saved by an earlier run would point at other messages.
        shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True, exist_ok=True)
    log_path = state / "bot.log"
    first_message, first_update = _first_ids(state) if keep else (1, 1)
    interactive = script is None and sys.stdin.isatty()
    if interactive:
        _enable_line_editing(settings.data_dir / "sandbox-history")
    with BotApiEmulator(first_message_id=first_message, first_update_id=first_update) as emulator:
        env = {
            **os.environ,
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": emulator.url,
            "DATA_DIR": str(state),
            "DOWNLOAD_DIR": str(state / "downloads"),
            "ALLOWED_USERS": f"{SANDBOX_USER},{SANDBOX_GROUP},42,43",
            "ADMIN_USERS": str(SANDBOX_USER),
            "WEBHOOK_URL": "",
        }
        env.setdefault("DOWNLOAD_ALLOW_NETWORKS", "127.0.0.0/8")
        with log_path.open("a") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        chat = TerminalChat(emulator, sys.stdout, interactive=interactive)
        try:
            polls = lambda: emulator.calls_of("getUpdates") or child.poll() is not None  # noqa: E731
            emulator.wait_for(polls, 30, "the bot to start")
            if child.poll() is not None:
                print(f"The bot did not start; see {log_path}", file=sys.stderr)
                return 1
            kept = " Kept from the last run: your timers, reminders and downloads." if keep else ""
            print(
                f"Errand sandbox: an offline chat with the real bot (log: {log_path}).{kept}\n"
                f"You are user {SANDBOX_USER} in a private chat. Try /help, /timer 5, or :help.",
                flush=True,
            )
            # Piped or scripted input is echoed and paced: each message waits for its answer.
            scripted = script is not None or not sys.stdin.isatty()
            for line in _lines(script):
                if scripted and not line.startswith(":"):
                    print(f"> {line.rstrip()}", flush=True)
                if not chat.handle(line):
                    break
                if scripted and not line.startswith(":"):
                    chat.wait()
        except KeyboardInterrupt:
            pass
        finally:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
            message_id, update_id = emulator.next_ids()
            (state / IDS_FILE).write_text(
                json.dumps({"message_id": message_id, "update_id": update_id})
            )
    return 0


def _lines(script: str | None):
    if script is None:
        while True:
            try:
                yield input(PROMPT if sys.stdin.isatty() else "")
            except EOFError:
                return
    elif script == "-":
        yield from sys.stdin
    else:
        yield from Path(script).read_text().splitlines()
