"""Memory and time of delivering big files: /download of a large file, then sendDocument.

Starts nginx on loopback serving a sparse file, the Bot API emulator (in this process, its upload
limit raised) and the real ``errandbot run`` in its own session. For each size and mode it sends
``/download URL``, waits for the document, checks its sha256, and reports:

- the peak resident memory of the bot's whole process tree (the bot and its download child),
  sampled from /proc every 50 ms, and the sum of each process's own high-water mark (VmHWM, an
  upper bound that no spike escapes);
- the wall time from the command to the document, and of the delivery alone (from the bot's
  ``upload_document`` chat action to the document);
- how long ``/help`` takes to be answered while the file is being sent, against the same with
  nothing running (``--chat``);
- as a peer, ``curl -F document=@FILE`` uploading the same file to the same emulator: its peak
  memory and time (upload mode only).

Modes: ``upload`` (multipart upload, as to api.telegram.org or a local server without --local)
and ``local`` (``TELEGRAM_LOCAL_MODE=true``: the file is handed over by path). A run whose bot
tree goes over ``--rss-cap-mb`` is stopped and reported as such, so that measuring the old code
path on a 1.9 GB file cannot take the machine down. Not a test: it never fails on timing.

    .venv/bin/python bench/delivery.py [--sizes 300,1900] [--modes upload,local]

Needs nginx and curl (``apt-get install nginx curl``). Uses /tmp; removes its files afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.botrun import bot_env, nginx_binary, nginx_serving, reply_latency, running_bot  # noqa: E402
from bot.sandbox.emulator import BotApiEmulator  # noqa: E402
from tests.procmem import MiB, TreeMemory  # noqa: E402

USER = 42


@dataclass
class Outcome:
    what: str
    size_mb: int
    ok: bool
    note: str
    peak: int = 0
    hwm_sum: int = 0
    total: float | None = None
    delivery: float | None = None
    chat: str = ""

    def row(self) -> str:
        def secs(value: float | None) -> str:
            return "—" if value is None else f"{value:.1f} s"

        return (
            f"| {self.what} | {self.size_mb} MB | {self.peak / MiB:.0f} MiB | "
            f"{self.hwm_sum / MiB:.0f} MiB "
            f"| {secs(self.total)} | {secs(self.delivery)} | {self.note}{self.chat} |"
        )


def make_sparse(path: Path, size: int) -> str:
    """A sparse file with a few random bytes at its start, middle and end; returns its sha256."""
    with path.open("wb") as fh:
        fh.truncate(size)
        for offset in (0, size // 2, size - 4096):
            fh.seek(offset)
            fh.write(os.urandom(4096))
    path.chmod(0o644)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def emulator_for(size: int, local: bool) -> BotApiEmulator:
    kwargs: dict = {"upload_limit": size + 1024 * 1024}
    if "local_mode" in inspect.signature(BotApiEmulator).parameters:
        kwargs["local_mode"] = local
    elif local:
        raise SystemExit("this emulator has no local mode (code before TELEGRAM_LOCAL_MODE)")
    return BotApiEmulator(**kwargs).start()


def help_latency(emulator: BotApiEmulator) -> float:
    return reply_latency(emulator, USER, "/help", contains="Commands:", timeout=30)


def chat_while_sending(emulator: BotApiEmulator, stop: threading.Event, out: list[float]) -> None:
    """Once the bot starts sending the file, time /help replies until ``stop``."""
    try:
        emulator.wait_for(
            lambda: stop.is_set() or emulator.calls_of("sendChatAction"), 600, "the upload"
        )
        while not stop.is_set() and not any(m.document for m in emulator.bot_messages(USER)):
            out.append(help_latency(emulator))
    except TimeoutError:
        pass


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"p50 {ordered[len(ordered) // 2] * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms ({len(values)})"
    )


def watch_cap(
    memory: TreeMemory, cap: int, pgid: int, hit: threading.Event, done: threading.Event
) -> None:
    """Kill the bot's session when its tree goes over ``cap`` bytes."""
    while not done.wait(0.05):
        if memory.peak > cap:
            hit.set()
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return


def deliver(
    tmp: Path,
    port: int,
    size: int,
    sha: str,
    local: bool,
    cap: int,
    timeout: float,
    chat: bool = False,
) -> Outcome:
    mode = "local mode (by path)" if local else "upload"
    what = f"errandbot, {mode}"
    emulator = emulator_for(size, local)
    data = tmp / f"data-{'local' if local else 'upload'}-{size}"
    data.mkdir()
    env = bot_env(
        emulator,
        data,
        (USER,),
        download_allow_networks="127.0.0.0/8",
        max_file_mb="4096",
        max_upload_mb="2000",
        disk_reserve_mb="0",
        daily_quota_mb="0",
        telegram_local_mode="true" if local else "false",
    )
    done = threading.Event()
    try:
        with (
            (tmp / "bot.log").open("ab") as log,
            running_bot(
                emulator,
                env,
                start_timeout=60,
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            ) as bot,
        ):
            return measure(
                emulator,
                bot,
                what,
                f"http://127.0.0.1:{port}/big.bin",
                size,
                sha,
                cap,
                timeout,
                chat,
                done,
            )
    finally:
        done.set()
        emulator.stop()
        shutil.rmtree(data, ignore_errors=True)


def measure(
    emulator: BotApiEmulator,
    bot: subprocess.Popen,
    what: str,
    url: str,
    size: int,
    sha: str,
    cap: int,
    timeout: float,
    chat: bool,
    done: threading.Event,
) -> Outcome:
    """``/download url`` to the running ``bot``, then its document: time, memory, replies
    meanwhile."""
    memory = TreeMemory(bot.pid)
    hit = threading.Event()
    idle = [help_latency(emulator) for _ in range(10)] if chat else []
    busy: list[float] = []
    if chat:
        threading.Thread(
            target=chat_while_sending, args=(emulator, done, busy), daemon=True
        ).start()
    memory.start()
    threading.Thread(target=watch_cap, args=(memory, cap, bot.pid, hit, done), daemon=True).start()
    started = time.monotonic()
    request = emulator.send_text(USER, USER, f"/download {url}")

    def document():
        if hit.is_set() or bot.poll() is not None:
            return "stopped"
        return next(
            (
                m
                for m in emulator.bot_messages(USER)
                if m.document and m.reply_to == request.message_id
            ),
            None,
        )

    found = emulator.wait_for(document, timeout, "the document")
    finished = time.monotonic()
    memory.stop()
    if found == "stopped":
        note = (
            f"stopped: over {cap // MiB} MiB"
            if hit.is_set()
            else f"the bot exited with {bot.returncode}"
        )
        return Outcome(what, size // MiB, False, note, memory.peak, memory.hwm_sum)
    actions = [
        c.at
        for c in emulator.calls_of("sendChatAction")
        if c.params.get("action") == "upload_document"
    ]
    delivery = finished - actions[0] if actions else None
    ok = found.document.get("sha256") == sha
    how = found.document.get("sent_by", "upload")
    note = ("sha256 matches" if ok else "SHA256 DIFFERS") + f"; sent by {how}"
    replies = f"; /help idle {ms(idle)}, while sending {ms(busy)}" if idle and busy else ""
    return Outcome(
        what,
        size // MiB,
        ok,
        note,
        memory.peak,
        memory.hwm_sum,
        finished - started,
        delivery,
        replies,
    )


def curl_upload(path: Path, size: int, sha: str) -> Outcome:
    """The peer: curl streams the same multipart upload from disk to the same emulator."""
    curl = shutil.which("curl")
    if curl is None:
        return Outcome("curl -F (peer)", size // MiB, False, "curl not installed")
    emulator = emulator_for(size, False)
    emulator.send_text(USER, USER, "hello")  # the chat exists
    try:
        started = time.monotonic()
        proc = subprocess.Popen(
            [
                curl,
                "-sS",
                "-o",
                "/dev/null",
                "-F",
                f"chat_id={USER}",
                "-F",
                f"document=@{path}",
                f"{emulator.url}/bot{emulator.token}/sendDocument",
            ]
        )
        with TreeMemory(proc.pid) as memory:
            proc.wait(1800)
        elapsed = time.monotonic() - started
        docs = [m for m in emulator.bot_messages(USER) if m.document]
        ok = bool(docs) and docs[-1].document.get("sha256") == sha
        return Outcome(
            "curl -F (peer)",
            size // MiB,
            ok,
            "sha256 matches" if ok else "no matching document",
            memory.peak,
            memory.hwm_sum,
            elapsed,
            elapsed,
        )
    finally:
        emulator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="300,1900", help="file sizes in MB (MiB), comma separated"
    )
    parser.add_argument("--modes", default="upload,local", help="upload and/or local")
    parser.add_argument(
        "--rss-cap-mb", type=int, default=3072, help="stop a run whose bot tree goes over this"
    )
    parser.add_argument("--timeout", type=float, default=1500.0, help="seconds per delivery")
    parser.add_argument("--no-peer", action="store_true", help="skip the curl upload")
    parser.add_argument("--chat", action="store_true", help="time /help replies while sending")
    args = parser.parse_args()
    nginx = nginx_binary()
    if nginx is None:
        print("nginx is not installed: apt-get install nginx")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="errand-delivery-"))
    root = tmp / "www"
    root.mkdir()
    tmp.chmod(0o755)  # nginx workers run as an unprivileged user
    root.chmod(0o755)
    rows: list[Outcome] = []
    try:
        with nginx_serving(nginx, tmp, root) as port:
            run_all(args, root, tmp, port, rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(
        "| what | file | peak RSS of the tree (sampled) | sum of VmHWM | /download → document | "
        "delivery | notes |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for outcome in rows:
        print(outcome.row())
    return 0


def run_all(
    args: argparse.Namespace, root: Path, tmp: Path, port: int, rows: list[Outcome]
) -> None:
    """Every size in every mode, and the peer after each size; each row printed as it comes."""
    for size_mb in (int(s) for s in args.sizes.split(",")):
        size = size_mb * MiB
        sha = make_sparse(root / "big.bin", size)
        for mode in args.modes.split(","):
            outcome = deliver(
                tmp,
                port,
                size,
                sha,
                mode == "local",
                args.rss_cap_mb * MiB,
                args.timeout,
                args.chat,
            )
            rows.append(outcome)
            print(outcome.row(), flush=True)
        if not args.no_peer:
            outcome = curl_upload(root / "big.bin", size, sha)
            rows.append(outcome)
            print(outcome.row(), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
