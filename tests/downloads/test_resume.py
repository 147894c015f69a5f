"""Resume after cancel, Ctrl-C and ``kill -9``: only the missing bytes are fetched again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.downloads.engine import DownloadCancelled, Downloader
from tests.downloads.conftest import payload, sha

pytestmark = pytest.mark.timeout(60)
MB = 1 << 20
REPO = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def recorded(ctl: Path):
    try:
        data = json.loads(ctl.read_text())
    except (OSError, ValueError):
        return None
    return data


def overlaps(range_header: str, done: list[list[int]]) -> bool:
    first, _, last = range_header.removeprefix("bytes=").partition("-")
    a, b = int(first), int(last)
    return any(a <= d1 and d0 <= b for d0, d1 in done)


def cancel_midway(url, dest, opts, **kw) -> Downloader:
    d = Downloader(url, dest_dir=dest, options=opts, **kw)
    d.probe()
    ctl = d.part_path.with_name(d.part_path.name + ".json")
    errors = []

    def target():
        try:
            d.run()
        except DownloadCancelled as exc:
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    wait_for(lambda: (recorded(ctl) or {}).get("done"), 10, "a control file with done ranges")
    d.cancel(keep_partial=True)
    t.join(5)
    assert errors, "run() did not raise DownloadCancelled"
    return d


def test_cancel_then_resume_fetches_only_missing_bytes(origin, options, tmp_path):
    data = payload(3 * MB)
    origin.add_file("/r.bin", data, rate=100_000)  # slow enough to be checkpointed (NEAR_END)
    d = cancel_midway(origin.url("/r.bin"), tmp_path, options())
    state = recorded(tmp_path / "r.bin.part.json")
    done_bytes = sum(b - a + 1 for a, b in state["done"])
    assert 0 < done_bytes < len(data)
    origin.add_file("/r.bin", data)  # full speed now
    origin.requests.clear()
    result = Downloader(origin.url("/r.bin"), dest_dir=tmp_path, options=options(min_split=64 * MB)).run()
    assert result.path == d.final_path
    assert sha(result.path.read_bytes()) == sha(data)
    assert result.resumed_from == done_bytes
    ranged = [h for h in origin.hits("/r.bin") if h.range != "bytes=0-0"]
    assert ranged and all(h.if_range for h in ranged)
    assert not any(overlaps(h.range, state["done"]) for h in ranged)
    assert origin.bytes_sent("/r.bin") == len(data) - done_bytes + 1  # + the probe's byte


def test_given_name_is_reused_not_numbered(origin, options, tmp_path):
    data = payload(2 * MB)
    origin.add_file("/x", data, rate=60_000)
    cancel_midway(origin.url("/x"), tmp_path, options(), name="My File.bin")
    assert (tmp_path / "My File.bin.part").exists()
    origin.add_file("/x", data)
    result = Downloader(origin.url("/x"), dest_dir=tmp_path, options=options(), name="My File.bin").run()
    assert result.path.name == "My File.bin" and result.resumed_from > 0
    assert sha(result.path.read_bytes()) == sha(data)


def test_etag_changed_between_runs_starts_over(origin, options, tmp_path):
    old, new = payload(2 * MB), payload(2 * MB)
    origin.add_file("/e.bin", old, rate=60_000)
    cancel_midway(origin.url("/e.bin"), tmp_path, options())
    origin.add_file("/e.bin", new)
    notices = []
    result = Downloader(origin.url("/e.bin"), dest_dir=tmp_path, options=options(),
                        on_notice=notices.append).run()
    assert sha(result.path.read_bytes()) == sha(new)
    assert result.resumed_from == 0
    assert notices == ["the file changed on the server (ETag differs); starting over"]


def _cli(url: str, out: Path) -> subprocess.Popen:
    env = {**os.environ, "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "bot", "download", url, "-o", str(out), "-c", "4", "-q"],
                            cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_process_resumes_with_the_same_command(origin, tmp_path, monkeypatch, capsys, sig):
    data = payload(4 * MB)
    origin.add_file("/k.bin", data, rate=100_000)
    proc = _cli(origin.url("/k.bin"), tmp_path)
    ctl = tmp_path / "k.bin.part.json"
    try:
        wait_for(lambda: sum(b - a + 1 for a, b in (recorded(ctl) or {}).get("done", [])) > MB // 2,
                 20, "half a MiB recorded")
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert err.strip() == "errandbot: interrupted; run the same command again to resume"
    else:
        assert proc.returncode == -signal.SIGKILL
    state = recorded(ctl)
    done_bytes = sum(b - a + 1 for a, b in state["done"])
    assert (tmp_path / "k.bin.part").exists() and 0 < done_bytes < len(data)

    origin.add_file("/k.bin", data)  # same content and ETag, full speed
    origin.requests.clear()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOWNLOAD_ALLOW_NETWORKS", "127.0.0.0/8")
    assert main(["download", origin.url("/k.bin"), "-o", str(tmp_path), "-c", "4", "-q"]) == 0
    assert capsys.readouterr().out.strip() == str((tmp_path / "k.bin").resolve())
    assert sha((tmp_path / "k.bin").read_bytes()) == sha(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.bin"]
    ranged = [h for h in origin.hits("/k.bin") if h.range != "bytes=0-0"]
    assert not any(overlaps(h.range, state["done"]) for h in ranged)
    # Only what was missing (+ a little: a stolen range's connection is cut mid-flight).
    assert origin.bytes_sent("/k.bin") <= len(data) - done_bytes + 1 + 4 * MB // 4


def test_no_checkpoint_when_the_rest_arrives_within_seconds(origin, options, tmp_path):
    """A download about to end is not made to fsync: a crash would cost less than the sync."""
    data = payload(2 * MB)
    origin.add_file("/n.bin", data, rate=300_000)  # 4 connections: about 1.7 s in all
    ctl = tmp_path / "n.bin.part.json"
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.append(ctl.exists())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        started = time.monotonic()
        result = Downloader(origin.url("/n.bin"), dest_dir=tmp_path, options=options()).run()
        took = time.monotonic() - started
    finally:
        done.set()
        watcher.join()
    assert sha(result.path.read_bytes()) == sha(data)
    assert took > 1.2, "too fast to have reached a checkpoint time; the test proves nothing"
    assert len(seen) > 50 and not any(seen)
