"""``errandbot download``: the path on success, one line ``errandbot: <reason>`` on failure."""

from __future__ import annotations

import pytest

from tests.downloads.conftest import payload, sha

pytestmark = pytest.mark.timeout(30)


def test_success_prints_the_path(cli, origin, tmp_path):
    data = payload(300_000)
    origin.add_file("/ok.bin", data)
    code, out, err = cli(
        origin.url("/ok.bin"), "-o", str(tmp_path / "o"), "-q", "--checksum", f"sha256:{sha(data)}"
    )
    assert code == 0, err
    assert out.strip() == str((tmp_path / "o" / "ok.bin").resolve())
    assert err == ""


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/missing", "errandbot: HTTP 404 Not Found"),
    ],
)
def test_http_error_is_one_line(cli, origin, path, expected):
    code, out, err = cli(origin.url(path), "-q")
    assert (code, out, err) == (1, "", expected + "\n")


def test_checksum_mismatch_and_bad_checksum(cli, origin):
    origin.add_file("/c", b"abc")
    code, _out, err = cli(origin.url("/c"), "-q", "--checksum", "sha1:" + "1" * 40)
    assert code == 1 and err.startswith(
        "errandbot: checksum mismatch: expected sha1 111111111111…, got "
    )
    code, _out, err = cli(origin.url("/c"), "-q", "--checksum", "crc32:00")
    assert (
        code == 1
        and err == "errandbot: checksum must look like sha256:HEX (also sha1:HEX, md5:HEX)\n"
    )


def test_bad_url_and_connections(cli):
    assert (
        cli("ftp://example.com/x", "-q")[2]
        == "errandbot: only http:// and https:// URLs can be downloaded\n"
    )
    assert (
        cli("http://example.com/x", "-c", "17", "-q")[2]
        == "errandbot: connections must be between 1 and 16\n"
    )


def test_private_address_refusal_says_how_to_allow_it(cli, origin, monkeypatch):
    monkeypatch.delenv("DOWNLOAD_ALLOW_NETWORKS")
    data = payload(50_000)
    origin.add_file("/p.bin", data)
    code, _out, err = cli(origin.url("/p.bin"), "-q")
    assert code == 1
    assert err == (
        "errandbot: refused: 127.0.0.1 is a private address (not allowed); to allow it, pass "
        "--allow-private or set DOWNLOAD_ALLOW_NETWORKS (e.g. DOWNLOAD_ALLOW_NETWORKS=127.0.0.0/8)\n"
    )
    code, out, err = cli(origin.url("/p.bin"), "-q", "--allow-private")
    assert code == 0, err


def _cli_process(url: str, out, *extra: str, preexec=None, tty=False):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "PYTHONPATH": str(repo)}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "download", url, "-o", str(out), *extra],
        cwd=out,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )


@pytest.mark.e2e
def test_full_disk_on_one_stream_is_one_line_and_leaves_nothing(origin, tmp_path):
    """A write that fails (here: the file size limit, as a full disk would) ends in one line."""
    import resource

    origin.add_file("/big.bin", payload(3_000_000), ranges=False)
    proc = _cli_process(
        origin.url("/big.bin"),
        tmp_path,
        "-q",
        preexec=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000)),
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err == (
        "errandbot: using one connection: the server does not support ranges\n"
        "errandbot: cannot write the file: File too large\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_sigterm_on_a_no_range_download_says_it_starts_over(origin, tmp_path):
    import signal
    import time

    origin.add_file("/nr.bin", payload(2_000_000), ranges=False, rate=200_000)
    proc = _cli_process(origin.url("/nr.bin"), tmp_path, "-q")
    part = tmp_path / "nr.bin.part"
    deadline = time.monotonic() + 20
    while not (part.exists() and part.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143  # 128 + SIGTERM, as a shell says
    assert err == (
        "errandbot: using one connection: the server does not support ranges\n"
        "errandbot: interrupted; this server cannot resume, so running the same command "
        "again starts over\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_progress_bar_ends_in_a_clean_summary(origin, tmp_path):
    """On a terminal: every redraw erases the line first, and the end is one summary line."""
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    data = payload(1_500_000)
    origin.add_file("/t.bin", data, rate=400_000)
    primary, secondary = pty.openpty()
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "download",
            origin.url("/t.bin"),
            "-o",
            str(tmp_path),
            "--checksum",
            f"sha256:{sha(data)}",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    out, _ = proc.communicate(timeout=30)
    os.close(primary)
    assert proc.returncode == 0
    text = b"".join(chunks).decode()
    assert "\x1b[K" in text and "%" in text
    redraws = text.split("\r\x1b[K")
    assert redraws[0] == "", "every redraw starts by erasing the line"
    last = redraws[-1].replace("\r\n", "\n")
    assert last.startswith("t.bin: 1.4 MB in ") and last.endswith(", sha256 verified\n"), last
