"""What the benchmarks that run the real bot share: ``errandbot run`` against the Bot API emulator,
nginx on loopback serving the files to download, and the time from a command to its reply.

``bench/chat_latency.py``, ``bench/flood_latency.py`` and ``bench/delivery.py`` each start the
unchanged ``errandbot`` console script the way the end-to-end tests do (``tests/e2e/harness.py``),
but with the caller's Errand settings left out of its environment, so a developer's ``.env``-style
exports cannot change what is measured, and with a clean stop however the benchmark ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.sandbox.emulator import BotApiEmulator

ERRANDBOT = str(Path(sys.executable).with_name("errandbot"))
#: Settings of the caller's environment that never reach a benchmarked bot.
_NOT_INHERITED = ("BOT_", "DOWNLOAD_", "MAX_", "TELEGRAM_")


def bot_env(
    emulator: BotApiEmulator, data_dir: Path, allowed: Iterable[int], **settings: str
) -> dict[str, str]:
    """The environment of a bot that talks to ``emulator`` and keeps its state in ``data_dir``.

    ``allowed`` are the user ids in ``ALLOWED_USERS``; ``settings`` (``max_file_mb="4096"``…) are
    Errand settings by name, upper-cased. The log level is WARNING unless ``settings`` say
    otherwise.
    """
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)},
        "BOT_TOKEN": emulator.token,
        "TELEGRAM_API_URL": emulator.url,
        "DATA_DIR": str(data_dir),
        "ALLOWED_USERS": ",".join(str(user) for user in allowed),
        "LOG_LEVEL": "WARNING",
        **{name.upper(): value for name, value in settings.items()},
    }


@contextmanager
def running_bot(
    emulator: BotApiEmulator, env: dict[str, str], *, start_timeout: float = 30.0, **popen: Any
) -> Iterator[subprocess.Popen]:
    """``errandbot run`` with ``env``, once it polls for updates; stopped with SIGTERM at the end.

    ``popen`` goes to :class:`subprocess.Popen` (``stdout=``, ``start_new_session=True``…). A bot
    that does not exit within 20 s of SIGTERM is killed (its whole session when it has its own).
    """
    bot = subprocess.Popen([ERRANDBOT, "run"], env=env, **popen)
    try:
        emulator.wait_for(
            lambda: emulator.calls_of("getUpdates") or bot.poll() is not None,
            start_timeout,
            "the bot to start",
        )
        if bot.poll() is not None:
            raise RuntimeError(f"errandbot exited with {bot.returncode} before polling")
        yield bot
    finally:
        stop(bot, own_session=bool(popen.get("start_new_session")))


def stop(bot: subprocess.Popen, *, own_session: bool = False) -> None:
    """SIGTERM, then SIGKILL (to its session when it has its own) if it is still there after 20
    s."""
    if bot.poll() is not None:
        return
    bot.send_signal(signal.SIGTERM)
    try:
        bot.wait(20)
    except subprocess.TimeoutExpired:
        if own_session:
            os.killpg(bot.pid, signal.SIGKILL)
        else:
            bot.kill()
        bot.wait(5)


def reply_latency(
    emulator: BotApiEmulator, chat_id: int, text: str, *, contains: str, timeout: float = 30.0
) -> float:
    """Seconds from ``text`` sent in private chat ``chat_id`` to the bot's reply containing
    ``contains``."""
    started = time.monotonic()
    sent = emulator.send_text(chat_id, chat_id, text)
    emulator.wait_reply(chat_id, sent, contains=contains, timeout=timeout)
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0…1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


NGINX_CONF = """
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    sendfile on;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def nginx_binary() -> str | None:
    """The nginx program, or None when it is not installed (``apt-get install nginx``)."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def nginx_or_say() -> str | None:
    """:func:`nginx_binary`, or None after printing how to install it."""
    nginx = nginx_binary()
    if nginx is None:
        print("nginx is not installed: apt-get install nginx")
    return nginx


def nginx_folders(prefix: str) -> tuple[Path, Path]:
    """A new temporary folder and its ``www`` (the root to serve), readable by nginx's workers,
    which run as an unprivileged user."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    root = tmp / "www"
    root.mkdir()
    tmp.chmod(0o755)
    root.chmod(0o755)
    return tmp, root


@contextmanager
def nginx_serving(
    nginx: str, tmp: Path, root: Path, *, workers: int = 1, connections: int = 64
) -> Iterator[int]:
    """nginx serving ``root`` on a free loopback port (yielded), with its files in ``tmp``."""
    port = free_port()
    (tmp / "nginx.conf").write_text(
        NGINX_CONF.format(tmp=tmp, port=port, root=root, workers=workers, connections=connections)
    )
    proc = subprocess.Popen([nginx, "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
