"""``errandbot download`` as an outside tester tried it (session 6): each case failed before.

Real servers showed each one first (busybox httpd, nginx, a tmpfs filled to the brim, an
environment that sets ``REQUESTS_CA_BUNDLE`` for every program); here the misbehaving origin
plays the server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.downloads import resume
from bot.downloads.engine import Downloader
from tests.downloads.conftest import payload, sha
from tests.downloads.test_failfast import pki, tls_origin  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(60)


def _serve(origin, tmp_path, size: int, **behaviour) -> tuple[bytes, Path]:
    """``/f.bin`` of ``size`` random bytes on the origin, and an empty output folder."""
    data = payload(size)
    origin.add_file("/f.bin", data, **behaviour)
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    return data, out_dir


def test_a_file_labelled_as_a_web_page_is_saved_as_it_is(cli, origin, tmp_path):
    """busybox httpd labels every unknown extension ``text/html``: the bytes are no page."""
    data = payload(400_000)
    origin.add_file("/f.bin", data, content_type="text/html")
    code, out, err = cli(origin.url("/f.bin"), "-o", str(tmp_path / "o"), "-q")
    assert code == 0, err
    saved = tmp_path / "o" / "f.bin"
    assert out.strip() == str(saved.resolve())
    assert sha(saved.read_bytes()) == sha(data)


def test_a_web_page_without_media_is_saved_as_the_page(cli, origin, tmp_path):
    page = b"<!doctype html>\n<html><body><p>No video here.</p></body></html>\n"
    origin.add_file("/page.html", page, content_type="text/html; charset=utf-8")
    code, out, err = cli(origin.url("/page.html"), "-o", str(tmp_path / "o"), "-q")
    assert code == 0, err
    assert (tmp_path / "o" / "page.html").read_bytes() == page
    assert err == "errandbot: no video or audio found on this page; saving the page itself\n"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["page.html"]


def test_a_file_named_like_a_control_file_is_not_taken_over(cli, origin, tmp_path):
    """``NAME.part.json`` that is not our record (no ``NAME.part`` beside it) is someone's file."""
    data, out_dir = _serve(origin, tmp_path, 200_000)
    theirs = out_dir / "f.bin.part.json"
    theirs.write_text('{"my": "settings"}')
    code, out, err = cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")
    assert code == 0, err
    assert theirs.read_text() == '{"my": "settings"}'
    assert sha((out_dir / "f (1).bin").read_bytes()) == sha(data)


def test_a_damaged_record_beside_its_part_file_is_still_ours(cli, origin, tmp_path):
    data, out_dir = _serve(origin, tmp_path, 200_000)
    (out_dir / "f.bin.part").write_bytes(b"x" * 1000)
    (out_dir / "f.bin.part.json").write_text("")
    code, out, err = cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["f.bin"]
    assert sha((out_dir / "f.bin").read_bytes()) == sha(data)


def test_a_no_range_file_that_shrinks_after_the_probe_starts_over_at_once(cli, origin, tmp_path):
    """The probe says 300 kB, the GET answers 1000 bytes with a true Content-Length: the file
    changed, which another try at the same stream cannot mend."""
    data = payload(300_000)
    origin.add_file("/s.bin", data, ranges=False, then=data[:1000])
    code, out, err = cli(origin.url("/s.bin"), "-o", str(tmp_path / "o"), "-q")
    assert code == 0, err
    assert (tmp_path / "o" / "s.bin").read_bytes() == data[:1000]
    # one probe, one GET refused for its size, a new probe, one GET: no retries of the same
    assert len(origin.hits("/s.bin")) <= 4


def test_a_rebuilt_record_claiming_everything_is_checked_before_it_is_trusted(
    cli, origin, tmp_path
):
    """A record whose checksum was recomputed by hand (every range "done") over a ``.part`` of
    the right size but wrong bytes: the CLI compares a few windows with the server first."""
    data = payload(2_000_000)
    origin.add_file("/r.bin", data)
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    url = origin.url("/r.bin")
    part = out_dir / "r.bin.part"
    part.write_bytes(b"\0" * len(data))
    etag = origin._files["/r.bin"].etag
    state = resume.ResumeState(
        url=url, size=len(data), validator=etag, final_url=url, done=[(0, len(data) - 1)]
    )
    resume.save(resume.control_path(part), state)
    json.loads(resume.control_path(part).read_text())  # a well-formed, checksummed record
    code, out, err = cli(url, "-o", str(out_dir), "-q")
    assert code == 0, err
    assert sha((out_dir / "r.bin").read_bytes()) == sha(data)
    assert "does not match" in err


def test_ssl_cert_file_is_honoured_when_requests_ca_bundle_is_also_set(
    tls_origin,  # noqa: F811 - the fixture imported above
    pki,  # noqa: F811
    options,
    tmp_path,
    monkeypatch,
):
    """Many machines set ``REQUESTS_CA_BUNDLE`` to the system store for every program; a private
    CA named in ``SSL_CERT_FILE`` is trusted as well, not shadowed by it."""
    from requests.certs import where

    data = payload(300_000)
    tls_origin.add_file("/e.bin", data)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", where())
    monkeypatch.setenv("SSL_CERT_FILE", str(pki / "ca.pem"))
    result = Downloader(
        tls_origin.url("/e.bin", host="localhost"), dest_dir=tmp_path, options=options()
    ).run()
    assert sha(result.path.read_bytes()) == sha(data)


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_a_ca_bundle_that_cannot_be_read_is_one_line(cli, tmp_path, monkeypatch, content):
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content)
    monkeypatch.setenv("DOWNLOAD_CA_BUNDLE", str(bundle))
    code, out, err = cli("https://127.0.0.1:9/x", "-q")
    assert code == 1 and out == ""
    assert err.startswith(f"errandbot: TLS failed: cannot load CA certificates from {bundle}")
    assert err.count("\n") == 1


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs, so that a disk really fills (root only; skipped with the reason)."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk) -> None:
    """Write a file until the disk refuses."""
    import os

    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.mark.e2e
def test_a_disk_that_fills_during_a_ranged_download_is_one_line_and_leaves_nothing(
    origin, small_disk
):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    origin.add_file("/d.bin", payload(1_500_000), rate=150_000)
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8",
        "DISK_RESERVE_MB": "0",
        "PYTHONPATH": str(repo),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "download", origin.url("/d.bin"), "-o", str(small_disk)],
        cwd=small_disk,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    part = small_disk / "d.bin.part"
    deadline = time.monotonic() + 20
    while not (part.exists() and os.stat(part).st_blocks) and time.monotonic() < deadline:
        time.sleep(0.02)
    _fill(small_disk)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert err == "errandbot: cannot write the file: No space left on device\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def _keeps_xattrs(folder) -> bool:
    import os

    probe = folder / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.errand.test", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


@pytest.fixture
def keeps_xattrs(tmp_path):
    if not _keeps_xattrs(tmp_path):
        pytest.skip("this file system keeps no user extended attributes")


@pytest.mark.usefixtures("keeps_xattrs")
@pytest.mark.parametrize("behaviour", [{}, {"ranges": False, "chunked": True}])
def test_the_same_command_again_finds_its_finished_file(cli, origin, tmp_path, behaviour):
    """A kill -9 just after the rename, or the same command run twice: no ``(1)`` copy (also of
    a file sent without a length: its ETag tells it)."""
    data, out_dir = _serve(origin, tmp_path, 300_000, **behaviour)
    first = cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")
    origin.requests.clear()
    again = cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")
    assert first[:2] == again[:2] == (0, str((out_dir / "f.bin").resolve()) + "\n")
    assert again[2] == ""  # nothing to say about a download that did not happen
    assert sorted(p.name for p in out_dir.iterdir()) == ["f.bin"]
    assert [h.range for h in origin.hits("/f.bin")] == ["bytes=0-0"]  # the probe alone

    # Killed between the rename and the record's removal: the record goes too.
    part = out_dir / "f.bin.part"
    resume.save(
        resume.control_path(part),
        resume.ResumeState(url=origin.url("/f.bin"), size=len(data), validator=None),
    )
    assert cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")[0] == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["f.bin"]


@pytest.mark.usefixtures("keeps_xattrs")
def test_a_finished_file_that_changed_is_not_taken_for_the_download(cli, origin, tmp_path):
    """Changed on the server, or written to on disk since: a new copy, the old one kept."""
    data, out_dir = _serve(origin, tmp_path, 300_000)
    assert cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")[0] == 0
    newer = payload(300_000)
    origin.replace("/f.bin", newer)
    code, out, _ = cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")
    assert (code, out) == (0, str((out_dir / "f (1).bin").resolve()) + "\n")
    assert sha((out_dir / "f (1).bin").read_bytes()) == sha(newer)
    assert sha((out_dir / "f.bin").read_bytes()) == sha(data)
    with open(out_dir / "f (1).bin", "r+b") as f:  # edited in place, same size
        f.write(b"edited")
    code, out, _ = cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")
    assert (code, out) == (0, str((out_dir / "f (2).bin").resolve()) + "\n")


def test_an_output_folder_that_is_a_file_is_one_line(cli, origin, tmp_path):
    origin.add_file("/f.bin", payload(1000))
    (tmp_path / "notes.txt").write_text("mine")
    code, out, err = cli(origin.url("/f.bin"), "-o", str(tmp_path / "notes.txt"), "-q")
    assert (code, out) == (1, "")
    assert (
        err == f"errandbot: cannot write to {tmp_path / 'notes.txt'}: it is a file, not a folder\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_same_command_twice_at_once_leaves_the_running_one_alone(cli, origin, tmp_path):
    """The second run finds the ``.part`` locked by the first (here: this test holds the lock)."""
    import fcntl
    import os

    data, out_dir = _serve(origin, tmp_path, 200_000)
    part = out_dir / "f.bin.part"
    url = origin.url("/f.bin")
    etag = origin._files["/f.bin"].etag
    record = resume.ResumeState(url=url, size=len(data), validator=etag, done=[(0, 999)])
    resume.save(resume.control_path(part), record)
    part.write_bytes(data[:1000] + b"\0" * (len(data) - 1000))
    before = resume.control_path(part).read_bytes()
    fd = os.open(part, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        code, out, err = cli(url, "-o", str(out_dir), "-q")
    finally:
        os.close(fd)
    assert (code, out, err) == (1, "", "errandbot: another download is writing f.bin.part now\n")
    assert resume.control_path(part).read_bytes() == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["f.bin.part", "f.bin.part.json"]
    assert cli(url, "-o", str(out_dir), "-q")[0] == 0  # once it is free, the same command ends it
    assert sha((out_dir / "f.bin").read_bytes()) == sha(data)


@pytest.mark.e2e
@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_interrupted_while_the_link_is_checked_says_so(origin, tmp_path, sig, code):
    """A server that accepts and never answers: Ctrl-C or SIGTERM during the probe."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    origin.add_file("/silent.bin", payload(1000), silent=True)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "PYTHONPATH": str(repo)}
    out_dir = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "download", origin.url("/silent.bin"), "-o", str(out_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not origin.hits("/silent.bin") and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=20)
    assert (proc.returncode, out) == (code, "")
    assert err == "errandbot: interrupted while checking the link; nothing was saved\n"
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


@pytest.mark.parametrize("planted", ["f.bin", "f.bin.part", "f.bin.part.json.tmp"])
def test_a_link_planted_in_the_folder_leads_nothing_out_of_it(cli, origin, tmp_path, planted):
    """A symbolic link where the download would write (even one that leads nowhere yet) is a
    name taken, never followed."""
    data, out_dir = _serve(origin, tmp_path, 100_000)
    victim = tmp_path / "victim"
    (out_dir / planted).symlink_to(victim)
    code, out, err = cli(origin.url("/f.bin"), "-o", str(out_dir), "-q")
    assert not victim.exists() and not victim.is_symlink()
    assert (out_dir / planted).is_symlink()
    if code == 0:
        assert sha(Path(out.strip()).read_bytes()) == sha(data)
        assert not Path(out.strip()).is_symlink()
    else:
        assert err.count("\n") == 1 and err.startswith("errandbot: ")
