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
    result = Downloader(
        origin.url("/r.bin"), dest_dir=tmp_path, options=options(min_split=64 * MB)
    ).run()
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
    result = Downloader(
        origin.url("/x"), dest_dir=tmp_path, options=options(), name="My File.bin"
    ).run()
    assert result.path.name == "My File.bin" and result.resumed_from > 0
    assert sha(result.path.read_bytes()) == sha(data)


def test_etag_changed_between_runs_starts_over(origin, options, tmp_path):
    old, new = payload(2 * MB), payload(2 * MB)
    origin.add_file("/e.bin", old, rate=60_000)
    cancel_midway(origin.url("/e.bin"), tmp_path, options())
    origin.add_file("/e.bin", new)
    notices = []
    result = Downloader(
        origin.url("/e.bin"),
        dest_dir=tmp_path,
        options=options(),
        on_notice=lambda why: notices.append(str(why)),
    ).run()
    assert sha(result.path.read_bytes()) == sha(new)
    assert result.resumed_from == 0
    assert notices == ["the file changed on the server (ETag differs); starting over"]


def _cli(url: str, out: Path) -> subprocess.Popen:
    env = {**os.environ, "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "download", url, "-o", str(out), "-c", "4", "-q"],
        cwd=out,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_process_resumes_with_the_same_command(origin, tmp_path, monkeypatch, capsys, sig):
    data = payload(4 * MB)
    origin.add_file("/k.bin", data, rate=100_000)
    proc = _cli(origin.url("/k.bin"), tmp_path)
    ctl = tmp_path / "k.bin.part.json"
    try:
        wait_for(
            lambda: sum(b - a + 1 for a, b in (recorded(ctl) or {}).get("done", [])) > MB // 2,
            20,
            "half a MiB recorded",
        )
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
    # What the record claims is proved by its digests, on disk (bot.downloads.verify.intact):
    # every range asked for is one that was missing.
    assert state["pieces"]
    assert not any(overlaps(h.range, state["done"]) for h in ranged)
    # Only what was missing (+ a little: a stolen range's connection is cut mid-flight).
    assert origin.bytes_sent("/k.bin") <= len(data) - done_bytes + 1 + 4 * MB // 4


def test_no_synced_record_when_the_rest_arrives_within_seconds(origin, options, tmp_path):
    """A download about to end is not made to fdatasync: the once-a-second records need no sync
    (a killed process loses nothing in the page cache), and a power cut now would cost less."""
    data = payload(2 * MB)
    origin.add_file("/n.bin", data, rate=300_000)  # 4 connections: about 1.7 s in all
    ctl = tmp_path / "n.bin.part.json"
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.append(recorded(ctl))
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
    records = [r for r in seen if r]
    assert any(r["done"] for r in records), "no once-a-second record was written"
    assert not any(r["synced"] for r in records)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.bin"]


def _run_cli(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "download", url, "-o", str(out), "-q", *extra],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("after", [0.3, 1.0, 2.0])
def test_kill_9_at_any_moment_loses_at_most_about_a_second(origin, tmp_path, after):
    """kill -9 0.3 s, 1 s or 2 s into the transfer, then the same command: one file, the right
    bytes, nothing left behind, and at most about one second of transfer fetched twice."""
    rate, conns = 100_000, 4
    data = payload(3 * MB)
    origin.add_file("/k9.bin", data, rate=rate)
    proc = _cli(origin.url("/k9.bin"), tmp_path)
    try:
        wait_for(
            lambda: any(h.range and h.range != "bytes=0-0" for h in origin.hits("/k9.bin")),
            30,
            "the transfer to start",
        )
        time.sleep(after)  # the moment of the crash is the point of this test
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    sent_before = origin.bytes_sent("/k9.bin")
    assert 0 < sent_before < len(data)
    assert (tmp_path / "k9.bin.part.json").exists()
    origin.add_file("/k9.bin", data)  # same content and ETag, full speed
    done = _run_cli(origin.url("/k9.bin"), tmp_path, "-c", "4")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k9.bin"]
    assert sha((tmp_path / "k9.bin").read_bytes()) == sha(data)
    repeated = origin.bytes_sent("/k9.bin") - len(data) - 2  # the two probes' byte each
    assert repeated <= 1.25 * rate * conns, (repeated, after)


@pytest.mark.e2e
def test_no_range_server_killed_three_times_leaves_one_file(origin, tmp_path):
    """A server without ranges cannot be resumed, but a re-run reuses its own leftover name."""
    data = payload(2 * MB)
    origin.add_file("/slow.bin", data, ranges=False, rate=200_000)
    for _ in range(3):
        proc = _cli(origin.url("/slow.bin"), tmp_path)
        try:
            wait_for(
                lambda: (
                    (tmp_path / "slow.bin.part").exists()
                    and (tmp_path / "slow.bin.part").stat().st_size > 0
                ),
                30,
                "bytes on disk",
            )
        finally:
            proc.kill()
            proc.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.bin.part", "slow.bin.part.json"]
    origin.add_file("/slow.bin", data, ranges=False)
    done = _run_cli(origin.url("/slow.bin"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.bin"]
    assert sha((tmp_path / "slow.bin").read_bytes()) == sha(data)


@pytest.mark.parametrize("damage", ["empty", "garbage", "all-done", "truncated-part"])
def test_a_damaged_or_edited_record_is_not_trusted(origin, options, tmp_path, damage):
    """Empty or corrupt record, every range marked done by hand, or a .part truncated to zero:
    the re-run starts over in the same file and ends with the right bytes, never wrong ones."""
    data = payload(2 * MB)
    origin.add_file("/d.bin", data, rate=100_000)
    cancel_midway(origin.url("/d.bin"), tmp_path, options())
    ctl, part = tmp_path / "d.bin.part.json", tmp_path / "d.bin.part"
    if damage == "empty":
        ctl.write_text("")
    elif damage == "garbage":
        ctl.write_bytes(os.urandom(200))
    elif damage == "all-done":
        state = recorded(ctl)
        state["done"] = [[0, len(data) - 1]]
        ctl.write_text(json.dumps(state))
    else:
        os.truncate(part, 0)
    origin.add_file("/d.bin", data)
    notices = []
    result = Downloader(
        origin.url("/d.bin"),
        dest_dir=tmp_path,
        options=options(),
        on_notice=lambda why: notices.append(str(why)),
    ).run()
    assert result.path == tmp_path / "d.bin" and result.resumed_from == 0
    assert sha(result.path.read_bytes()) == sha(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.bin"]
    assert notices, "starting over must be said"


def test_after_a_reboot_only_synced_ranges_count():
    from bot.downloads.resume import ResumeState

    state = ResumeState(
        url="http://x/",
        size=100,
        validator=None,
        done=[(0, 79)],
        synced=[(0, 39)],
        boot_id="boot-a",
    )
    again = ResumeState.from_json(state.to_json())
    assert again.trusted_done("boot-a") == [(0, 79)]
    assert again.trusted_done("boot-b") == [(0, 39)]


def test_a_resume_that_does_not_match_the_server_starts_over(origin, options, tmp_path):
    """The record (one without digests: record_digests off) is intact but the .part was
    overwritten: with verify_resumed the windows fetched again differ, and the download starts
    over. (With digests, tests/downloads/test_digests.py.)"""
    data = payload(2 * MB)
    origin.add_file("/v.bin", data, rate=100_000)
    cancel_midway(origin.url("/v.bin"), tmp_path, options(record_digests=False))
    part = tmp_path / "v.bin.part"
    part.write_bytes(os.urandom(part.stat().st_size))  # same size, other bytes
    origin.add_file("/v.bin", data)
    notices = []
    result = Downloader(
        origin.url("/v.bin"),
        dest_dir=tmp_path,
        options=options(verify_resumed=True, record_digests=False),
        on_notice=lambda why: notices.append(str(why)),
    ).run()
    assert notices == ["the partial file does not match the server; starting over"]
    assert result.resumed_from == 0 and sha(result.path.read_bytes()) == sha(data)


def test_a_resume_that_matches_the_server_is_kept(origin, options, tmp_path):
    data = payload(2 * MB)
    origin.add_file("/w.bin", data, rate=100_000)
    cancel_midway(origin.url("/w.bin"), tmp_path, options())
    origin.add_file("/w.bin", data)
    result = Downloader(
        origin.url("/w.bin"), dest_dir=tmp_path, options=options(verify_resumed=True)
    ).run()
    assert result.resumed_from > 0 and sha(result.path.read_bytes()) == sha(data)
