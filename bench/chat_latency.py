"""Command-to-reply latency of light commands while downloads run at full speed.

Starts the Bot API emulator (in this process), nginx on loopback serving large files, and the real
``errandbot run``. Measures how long ``/help`` and ``/timer`` take from the user's message to the
bot's reply, first with nothing running (baseline) and then while 4 downloads run unthrottled;
prints p50/p95 for both and their ratio. Not a test: it never fails on timing.

    .venv/bin/python bench/chat_latency.py [--samples 60] [--file-gb 2]

Needs nginx (``apt-get install nginx``). Uses /tmp for files; removes them afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox.emulator import BotApiEmulator  # noqa: E402

USER = 42
NGINX_CONF = """
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 256; }}
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


#: Seconds between one command and the next, at most: a person's pace. The bot answers one chat
#: about once a second (Telegram's per-chat limit, bot/telegram/send_queue.py), so commands sent
#: back to back would measure that pacing instead of the bot.
GAP = 1.1


def measure(emulator: BotApiEmulator, samples: int) -> list[float]:
    """Seconds from each command to its reply, alternating /help and /timer."""
    latencies = []
    for i in range(samples):
        text, marker = ("/help", "Commands:") if i % 2 == 0 else ("/timer 1h bench", "rings")
        started = time.monotonic()
        sent = emulator.send_text(USER, USER, text)
        emulator.wait_reply(USER, sent, contains=marker, timeout=15)
        latencies.append(time.monotonic() - started)
        time.sleep(max(0.0, GAP - (time.monotonic() - started)))
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--file-gb", type=float, default=2.0)
    parser.add_argument("--downloads", type=int, default=4)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("nginx is not installed: apt-get install nginx")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="errand-bench-"))
    root, data = tmp / "www", tmp / "data"
    root.mkdir()
    data.mkdir()
    tmp.chmod(0o755)  # nginx workers run as an unprivileged user
    root.chmod(0o755)
    size = int(args.file_gb * 1024**3)
    for i in range(args.downloads):
        with (root / f"big{i}.bin").open("wb") as fh:
            fh.truncate(size)  # sparse: nginx serves it at memory speed
        (root / f"big{i}.bin").chmod(0o644)
    port = free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root))
    nginx_proc = subprocess.Popen([nginx, "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
    emulator = BotApiEmulator().start()
    env = {
        **os.environ, "BOT_TOKEN": emulator.token, "TELEGRAM_API_URL": emulator.url, "DATA_DIR": str(data),
        "ALLOWED_USERS": str(USER), "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "LOG_LEVEL": "WARNING",
        "MAX_ACTIVE_DOWNLOADS": str(args.downloads), "MAX_ACTIVE_PER_USER": str(args.downloads),
        "MAX_FILE_MB": str(int(args.file_gb * 1024) + 1), "DISK_RESERVE_MB": "0", "DAILY_QUOTA_MB": "0",
        "MAX_UPLOAD_MB": "1",
    }
    bot = subprocess.Popen([str(Path(sys.executable).with_name("errandbot")), "run"], env=env)
    try:
        emulator.wait_for(lambda: emulator.calls_of("getUpdates"), 30, "the bot to start")
        measure(emulator, 6)  # warm-up
        idle = measure(emulator, args.samples)
        for i in range(args.downloads):
            emulator.send_text(USER, USER, f"/download http://127.0.0.1:{port}/big{i}.bin")
        try:
            emulator.wait_for(
                lambda: sum(1 for m in emulator.bot_messages(USER) if (m.text or "").startswith("⬇️"))
                >= args.downloads, 60, "all downloads to be running")
        except TimeoutError:
            print("\n".join(m.text or "" for m in emulator.bot_messages(USER)[-args.downloads:]))
            raise
        busy = measure(emulator, args.samples)
        still_running = sum(1 for m in emulator.bot_messages(USER) if (m.text or "").startswith("⬇️"))
        print(f"samples per phase: {args.samples}; downloads: {args.downloads} x {args.file_gb:g} GiB "
              f"(still running at the end: {still_running})")
        for name, values in (("idle", idle), ("4 downloads", busy)):
            print(f"{name:12s} p50 {percentile(values, 0.5) * 1000:7.1f} ms   "
                  f"p95 {percentile(values, 0.95) * 1000:7.1f} ms   mean {statistics.mean(values) * 1000:7.1f} ms")
        print(f"ratio busy/idle: p50 {percentile(busy, 0.5) / percentile(idle, 0.5):.2f}x, "
              f"p95 {percentile(busy, 0.95) / percentile(idle, 0.95):.2f}x")
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(15)
        except subprocess.TimeoutExpired:
            bot.kill()
        nginx_proc.terminate()
        nginx_proc.wait(10)
        emulator.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
