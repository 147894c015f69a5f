"""Start-up time and idle memory of the real bot with its language catalogs, beside an earlier
source tree without them (the "before"), in the same run.

Each round starts ``python -m bot run`` against the Bot API emulator (in this process, loopback)
with a fresh data folder, alternating the two trees: start-up is the time from spawning the
process to its first ``getUpdates``; then a user whose Telegram app is Chinese sends ``/help``
(so the Chinese catalog is used, in the tree that has one) and, once the reply is in and the bot
has made no call but polling for a second, the process's resident memory (VmRSS) is read.
Prints medians and the ratios. Not a test: it never fails on timing.

    git archive <commit-before> | tar -x -C /tmp/errand-before
    .venv/bin/python bench/languages.py --before /tmp/errand-before [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox.emulator import BotApiEmulator  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
USER = 42


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def one_round(tree: Path) -> tuple[float, float]:
    """(start-up seconds, idle RSS in MiB) of the bot from source ``tree``."""
    with BotApiEmulator() as emulator, tempfile.TemporaryDirectory(prefix="errand-bench-") as tmp:
        emulator.set_user_language(USER, "zh-hans")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DOWNLOAD_"))},
            "PYTHONPATH": str(tree),
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": emulator.url,
            "DATA_DIR": tmp,
            "ALLOWED_USERS": str(USER),
            "LOG_LEVEL": "WARNING",
        }
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            emulator.wait_for(
                lambda: emulator.calls_of("getUpdates") or proc.poll() is not None, 60, "polling"
            )
            if proc.poll() is not None:
                raise RuntimeError(f"the bot from {tree} exited with {proc.returncode}")
            startup = time.monotonic() - started
            sent = emulator.send_text(USER, USER, "/help")
            emulator.wait_reply(USER, sent, timeout=30)

            def quiet() -> bool:
                recent = [c for c in emulator.calls if c.method != "getUpdates"]
                return not recent or time.monotonic() - recent[-1].at > 1.0

            emulator.wait_for(quiet, 30, "the bot to go idle")
            return startup, rss_kib(proc.pid) / 1024
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="source tree without catalogs")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not (args.before / "bot" / "__init__.py").exists():
        parser.error(f"{args.before} is not an Errand source tree")
    trees = {"before (no catalogs)": args.before.resolve(), "with en + zh catalogs": HERE}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for round_number in range(args.rounds):
        for name, tree in trees.items():
            results[name].append(one_round(tree))
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    medians = {
        name: (statistics.median(s for s, _ in rows), statistics.median(m for _, m in rows))
        for name, rows in results.items()
    }
    for name, (startup, rss) in medians.items():
        print(f"{name:24s} start-up {startup * 1000:7.0f} ms   idle RSS {rss:6.1f} MiB")
    (b_start, b_rss), (a_start, a_rss) = medians.values()
    print(
        f"ratio (with / before)    start-up {a_start / b_start:7.2f}×     idle RSS "
        f"{a_rss / b_rss:6.2f}×"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
