"""File names from headers and URLs, and that no name can escape the output folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.downloads import naming


def test_filename_star_wins_over_filename():
    cd = "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt"
    assert naming.from_content_disposition(cd) == "€ rates.txt"


def test_quoted_filename_with_escapes():
    assert naming.from_content_disposition('attachment; filename="a \\"b\\".txt"') == 'a "b".txt'
    assert naming.from_content_disposition("attachment; filename=plain.bin") == "plain.bin"


def test_derive_order_disposition_url_content_type():
    assert naming.derive("http://h/x/report.pdf?q=1", None, None) == "report.pdf"
    assert naming.derive("http://h/x/my%20file.zip", None, None) == "my file.zip"
    assert naming.derive("http://h/", None, "application/pdf") == "download.pdf"
    assert naming.derive("http://h/", None, None) == "download"
    assert naming.derive("http://h/a.bin", "attachment; filename=b.bin", None) == "b.bin"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("../../etc/passwd", "passwd"),
        ("..", "download"),
        ("..\\..\\boot.ini", "boot.ini"),
        (".bashrc", "bashrc"),
        ("evil\u202eexe.txt", "evilexe.txt"),
        ("a\x00b\nc.txt", "abc.txt"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("trailing. . ", "trailing"),
        ("", "download"),
    ],
)
def test_sanitize(raw, expected):
    assert naming.sanitize(raw) == expected


def test_long_names_are_cut_to_the_byte_limit_keeping_the_extension():
    name = naming.sanitize("é" * 300 + ".tar.gz")
    assert len(name.encode()) <= naming.MAX_NAME_BYTES
    assert name.endswith(".gz")
    name.encode().decode("utf-8")  # not cut inside a character


def test_with_number():
    assert naming.with_number("a.txt", 2) == "a (2).txt"
    assert naming.with_number("noext", 1) == "noext (1)"


def test_inside_refuses_escape(tmp_path: Path):
    assert naming.inside(tmp_path, "ok.txt") == tmp_path.resolve() / "ok.txt"
    with pytest.raises(ValueError):
        naming.inside(tmp_path, "../x")
