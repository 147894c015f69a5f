"""Digests of pieces in the resume record: kept while workers write (also across steals at any
offset), stored and read back, and checked on resume so that a changed byte costs its piece,
never a wrong file and never the whole download."""

from __future__ import annotations

import json
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main
from bot.downloads import resume, verify
from bot.downloads.api import DownloadOptions, DownloadResult
from bot.downloads.engine import Downloader
from bot.downloads.segments import PIECE_SIZE, Piece, SegmentMap, intersect, merge
from tests.downloads.conftest import payload, sha
from tests.downloads.test_resume import cancel_midway, recorded

pytestmark = pytest.mark.timeout(60)
MB = 1 << 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write_like_workers(data: bytes, seed: int) -> tuple[SegmentMap, bytearray]:
    """Several "workers" fill ``data`` in random chunks, stealing at whatever offset the map
    picks; stop with some segments still half written. Returns the map and the file."""
    rng = random.Random(seed)
    clock = FakeClock()
    m = SegmentMap(len(data), min_split=64 * 1024, clock=clock, pieces=[])
    m.plan(3)
    disk = bytearray(len(data))
    active = [m.take() for _ in range(3)]
    running: dict = {}  # each segment's running digest, as its worker keeps it
    for _ in range(400):
        clock.now += 0.05
        i = rng.randrange(len(active))
        seg = active[i]
        if seg is None or seg.finished:
            if seg is not None:
                m.finish(seg)
            active[i] = m.take()
            continue
        offset = seg.pos
        n = m.claim(seg, rng.randrange(1, 300_000))
        disk[offset : offset + n] = data[offset : offset + n]
        piece = running.setdefault(seg, verify.running_digest())
        piece.update(data[offset : offset + n])
        if m.flushed(seg, n, piece.intdigest()):
            piece.reset()
    return m, disk


@pytest.mark.parametrize("seed", range(5))
def test_pieces_cover_exactly_what_is_written_and_vouch_for_it(seed):
    data = os.urandom(5 * MB + 12345)
    m, disk = write_like_workers(data, seed)
    done, pieces = m.snapshot()
    assert pieces is not None and done
    assert merge([(p.first, p.last) for p in pieces]) == done
    spans = sorted((p.first, p.last) for p in pieces)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False)), "pieces overlap"
    for p in pieces:
        assert verify.digest_of(bytes(disk[p.first : p.last + 1])) == p.digest
        assert p.length < PIECE_SIZE + 300_000  # closed once a piece reaches PIECE_SIZE


def test_a_map_without_digests_keeps_none():
    m = SegmentMap(100)
    seg = m.take()
    assert seg is not None and not m.digests
    m.flushed(seg, m.claim(seg, 10))
    assert m.snapshot() == ([(0, 9)], None)


def test_the_record_keeps_its_pieces_and_its_checksum_covers_them():
    state = resume.ResumeState(
        url="http://x/",
        size=100,
        validator='"e"',
        done=[(0, 59)],
        pieces=[Piece(0, 39, 123), Piece(40, 59, 2**64 - 1)],
    )
    text = state.to_json()
    assert resume.ResumeState.from_json(text).pieces == state.pieces
    edited = json.loads(text)
    edited["pieces"][0][2] = 124
    with pytest.raises(ValueError, match="checksum"):
        resume.ResumeState.from_json(json.dumps(edited))
    outside = resume.ResumeState(url="u", size=100, validator=None, pieces=[Piece(90, 100, 1)])
    with pytest.raises(ValueError, match="out of bounds"):
        resume.ResumeState.from_json(outside.to_json())


def test_a_version_2_record_is_still_read_without_digests():
    fields = {
        "version": 2,
        "url": "http://x/",
        "final_url": "",
        "size": 100,
        "validator": None,
        "done": [[0, 49]],
        "synced": [],
        "boot_id": "b",
    }
    check = resume._digest(fields)
    old = resume.ResumeState.from_json(json.dumps({**fields, "check": check}))
    assert old.done == [(0, 49)] and old.pieces is None


def test_intact_drops_only_the_piece_with_a_changed_byte(tmp_path: Path):
    data = os.urandom(3 * MB)
    path = tmp_path / "f.part"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDWR)
    try:
        pieces = verify.digest(fd, [(0, len(data) - 1)])
        assert [(p.first, p.length) for p in pieces] == [(0, MB), (MB, MB), (2 * MB, MB)]
        assert verify.digest(fd, [(0, MB + 9)])[1] == Piece(
            MB, MB + 9, verify.digest_of(data[MB:][:10])
        )
        at = MB + MB // 2
        os.pwrite(fd, bytes([data[at] ^ 0x01]), at)
        assert verify.intact(fd, [(0, len(data) - 1)], pieces) == [pieces[0], pieces[2]]
        # A piece the ranges do not claim (after a reboot: not synced) is not trusted either.
        assert verify.intact(fd, [(0, MB - 1)], pieces) == [pieces[0]]
    finally:
        os.close(fd)


def test_intersect():
    assert intersect([(0, 9), (20, 29)], [(5, 24)]) == [(5, 9), (20, 24)]
    assert intersect([(0, 9)], [(10, 19)]) == []


def resume_at_full_speed(
    origin, path: str, dest: Path, opts: DownloadOptions
) -> tuple[DownloadResult, list[str]]:
    """Run the download of ``path`` again into ``dest`` (its requests counted from now) with
    ``opts`` and no steals (no bytes cut off in flight); the result and the notices."""
    origin.requests.clear()
    notices: list[str] = []
    result = Downloader(
        origin.url(path),
        dest_dir=dest,
        options=replace(opts, min_split=64 * MB),
        on_notice=lambda why: notices.append(str(why)),
    ).run()
    return result, notices


def test_one_flipped_byte_is_fetched_again_not_delivered(origin, options, tmp_path):
    """Stop, flip one byte in the middle of the largest done range, resume with the default
    options: the right file, the notice says so, and only about one piece is fetched again."""
    data = payload(3 * MB)
    origin.add_file("/f.bin", data, rate=100_000)
    cancel_midway(origin.url("/f.bin"), tmp_path, options())
    state = recorded(tmp_path / "f.bin.part.json")
    assert state["version"] == resume.VERSION and state["pieces"]
    first, last = max(state["done"], key=lambda r: r[1] - r[0])
    at = (first + last) // 2
    (piece,) = [p for p in state["pieces"] if p[0] <= at <= p[1]]
    part = tmp_path / "f.bin.part"
    with part.open("r+b") as f:
        f.seek(at)
        f.write(bytes([data[at] ^ 0x40]))
    done_bytes = sum(b - a + 1 for a, b in state["done"])
    origin.add_file("/f.bin", data)
    result, notices = resume_at_full_speed(origin, "/f.bin", tmp_path, options())
    assert sha(result.path.read_bytes()) == sha(data)
    lost = piece[1] - piece[0] + 1
    assert result.resumed_from == done_bytes - lost
    assert any("of the partial file did not match its record; fetched again" in n for n in notices)
    assert origin.bytes_sent("/f.bin") == len(data) - done_bytes + lost + 1  # + the probe's byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_an_intact_resume_fetches_only_what_is_missing_and_says_nothing(origin, options, tmp_path):
    data = payload(2 * MB)
    origin.add_file("/g.bin", data, rate=100_000)
    cancel_midway(origin.url("/g.bin"), tmp_path, options())
    state = recorded(tmp_path / "g.bin.part.json")
    done_bytes = sum(b - a + 1 for a, b in state["done"])
    origin.add_file("/g.bin", data)
    result, notices = resume_at_full_speed(origin, "/g.bin", tmp_path, options(verify_resumed=True))
    assert sha(result.path.read_bytes()) == sha(data) and not notices
    assert result.resumed_from == done_bytes
    # No spot-check windows either: the digests prove the bytes without asking the server.
    assert origin.bytes_sent("/g.bin") == len(data) - done_bytes + 1


def test_the_cli_fetches_a_changed_piece_again_and_says_so(
    origin, options, tmp_path, monkeypatch, capsys
):
    """The CLI keeps digests too (they cost no measurable CPU): the same command after a
    changed byte ends with the right file and one line saying how much was fetched again."""
    data = payload(2 * MB)
    origin.add_file("/c.bin", data, rate=100_000)
    cancel_midway(origin.url("/c.bin"), tmp_path, options())
    state = recorded(tmp_path / "c.bin.part.json")
    first, last = max(state["done"], key=lambda r: r[1] - r[0])
    at = (first + last) // 2
    with (tmp_path / "c.bin.part").open("r+b") as f:
        f.seek(at)
        f.write(bytes([data[at] ^ 0x01]))
    origin.add_file("/c.bin", data)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOWNLOAD_ALLOW_NETWORKS", "127.0.0.0/8")
    assert main(["download", origin.url("/c.bin"), "-o", str(tmp_path), "-c", "4", "-q"]) == 0
    assert sha((tmp_path / "c.bin").read_bytes()) == sha(data)
    assert "of the partial file did not match its record; fetched again" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.bin"]


def test_a_version_2_record_falls_back_to_the_spot_check(origin, options, tmp_path):
    """A record written before digests existed is still resumed: its claim is spot-checked
    against the server (a few small windows), as before, and nothing is fetched twice."""
    data = payload(2 * MB)
    origin.add_file("/o.bin", data, rate=100_000)
    cancel_midway(origin.url("/o.bin"), tmp_path, options(record_digests=False))
    ctl = tmp_path / "o.bin.part.json"
    fields = recorded(ctl)
    assert fields["pieces"] is None
    del fields["check"], fields["pieces"]
    fields["version"] = 2
    ctl.write_text(json.dumps({**fields, "check": resume._digest(fields)}))
    done_bytes = sum(b - a + 1 for a, b in fields["done"])
    origin.add_file("/o.bin", data)
    result, notices = resume_at_full_speed(origin, "/o.bin", tmp_path, options(verify_resumed=True))
    assert sha(result.path.read_bytes()) == sha(data) and not notices
    assert result.resumed_from == done_bytes
    spans = [
        int(last) - int(first) + 1
        for first, last in (
            h.range.removeprefix("bytes=").split("-")
            for h in origin.hits("/o.bin")
            if h.range and h.range != "bytes=0-0"
        )
    ]
    assert any(n <= verify.WINDOW for n in spans), "the spot check asks for small windows"
