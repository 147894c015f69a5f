"""``errandbot download``: the path on success, one line ``errandbot: <reason>`` on failure."""

from __future__ import annotations

import pytest

from bot.cli import main
from tests.downloads.conftest import payload, sha

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOWNLOAD_ALLOW_NETWORKS", "127.0.0.0/8")

    def invoke(*argv: str):
        code = main(["download", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_success_prints_the_path(cli, origin, tmp_path):
    data = payload(300_000)
    origin.add_file("/ok.bin", data)
    code, out, err = cli(origin.url("/ok.bin"), "-o", str(tmp_path / "o"), "-q",
                         "--checksum", f"sha256:{sha(data)}")
    assert code == 0, err
    assert out.strip() == str((tmp_path / "o" / "ok.bin").resolve())
    assert err == ""


@pytest.mark.parametrize("path, expected", [
    ("/missing", "errandbot: HTTP 404 Not Found"),
])
def test_http_error_is_one_line(cli, origin, path, expected):
    code, out, err = cli(origin.url(path), "-q")
    assert (code, out, err) == (1, "", expected + "\n")


def test_private_address_refused(cli, origin, monkeypatch):
    monkeypatch.delenv("DOWNLOAD_ALLOW_NETWORKS")
    code, _out, err = cli(origin.url("/x"), "-q")
    assert code == 1
    assert err == "errandbot: refused: 127.0.0.1 is a private address (not allowed)\n"


def test_checksum_mismatch_and_bad_checksum(cli, origin):
    origin.add_file("/c", b"abc")
    code, _out, err = cli(origin.url("/c"), "-q", "--checksum", "sha1:" + "1" * 40)
    assert code == 1 and err.startswith("errandbot: checksum mismatch: expected sha1 111111111111…, got ")
    code, _out, err = cli(origin.url("/c"), "-q", "--checksum", "crc32:00")
    assert code == 1 and err == "errandbot: checksum must look like sha256:HEX (also sha1:HEX, md5:HEX)\n"


def test_bad_url_and_connections(cli):
    assert cli("ftp://example.com/x", "-q")[2] == "errandbot: only http:// and https:// URLs can be downloaded\n"
    assert cli("http://example.com/x", "-c", "17", "-q")[2] == "errandbot: connections must be between 1 and 16\n"
