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
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.botrun import (  # noqa: E402
    bot_env,
    nginx_binary,
    nginx_serving,
    percentile,
    reply_latency,
    running_bot,
)
from bot.sandbox.emulator import BotApiEmulator  # noqa: E402

USER = 42

#: Seconds between one command and the next, at most: a person's pace. The bot answers one chat
#: about once a second (Telegram's per-chat limit, bot/telegram/send_queue.py), so commands sent
#: back to back would measure that pacing instead of the bot.
GAP = 1.1


def measure(emulator: BotApiEmulator, samples: int) -> list[float]:
    """Seconds from each command to its reply, alternating /help and /timer."""
    latencies = []
    for i in range(samples):
        text, marker = ("/help", "Commands:") if i % 2 == 0 else ("/timer 1h bench", "rings")
        latencies.append(reply_latency(emulator, USER, text, contains=marker, timeout=15))
        time.sleep(max(0.0, GAP - latencies[-1]))
    return latencies


def compare(emulator: BotApiEmulator, port: int, args: argparse.Namespace) -> None:
    """Replies with nothing running, then beside ``args.downloads`` downloads; prints both and their
    ratio."""
    measure(emulator, 6)  # warm-up
    idle = measure(emulator, args.samples)
    for i in range(args.downloads):
        emulator.send_text(USER, USER, f"/download http://127.0.0.1:{port}/big{i}.bin")
    try:
        emulator.wait_for(
            lambda: (
                sum(1 for m in emulator.bot_messages(USER) if (m.text or "").startswith("⬇️"))
                >= args.downloads
            ),
            60,
            "all downloads to be running",
        )
    except TimeoutError:
        print("\n".join(m.text or "" for m in emulator.bot_messages(USER)[-args.downloads :]))
        raise
    busy = measure(emulator, args.samples)
    still_running = sum(1 for m in emulator.bot_messages(USER) if (m.text or "").startswith("⬇️"))
    print(
        f"samples per phase: {args.samples}; downloads: {args.downloads} x {args.file_gb:g} GiB "
        f"(still running at the end: {still_running})"
    )
    for name, values in (("idle", idle), ("4 downloads", busy)):
        print(
            f"{name:12s} p50 {percentile(values, 0.5) * 1000:7.1f} ms   "
            f"p95 {percentile(values, 0.95) * 1000:7.1f} ms   mean "
            f"{statistics.mean(values) * 1000:7.1f} ms"
        )
    print(
        f"ratio busy/idle: p50 {percentile(busy, 0.5) / percentile(idle, 0.5):.2f}x, "
        f"p95 {percentile(busy, 0.95) / percentile(idle, 0.95):.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--file-gb", type=float, default=2.0)
    parser.add_argument("--downloads", type=int, default=4)
    args = parser.parse_args()
    nginx = nginx_binary()
    if nginx is None:
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
    try:
        with (
            nginx_serving(nginx, tmp, root, workers=2, connections=256) as port,
            BotApiEmulator() as emulator,
        ):
            env = bot_env(
                emulator,
                data,
                (USER,),
                download_allow_networks="127.0.0.0/8",
                max_active_downloads=str(args.downloads),
                max_active_per_user=str(args.downloads),
                max_file_mb=str(int(args.file_gb * 1024) + 1),
                disk_reserve_mb="0",
                daily_quota_mb="0",
                max_upload_mb="1",
            )
            with running_bot(emulator, env):
                compare(emulator, port, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
