"""Errors that retrying cannot change end at once with the real reason; deadlines end the rest.

Each case runs against a real server on loopback (tests/origin.py, plain or TLS) with the
default retry policy of the tests (3 retries): the retries the engine reports (``on_retry``)
show whether an error was retried; none means it ended at the first one. The deadlines are
checked by the reason they end with and a generous bound, far from what missing them would take.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from bot.downloads.engine import DownloadCancelled, Downloader, DownloadError
from bot.downloads.errors import DownloadRefused
from bot.downloads.progress import Retrying
from bot.downloads.watchdog import Deadlines, SlowDownload
from tests.certificates import openssl, self_signed
from tests.downloads.conftest import payload, sha
from tests.origin import Origin

pytestmark = pytest.mark.timeout(60)


def failure(url, tmp_path, options) -> tuple[str, list[Retrying]]:
    """The reason a download ended with, and the retries it made before."""
    retries: list[Retrying] = []
    with pytest.raises(DownloadError) as info:
        Downloader(url, dest_dir=tmp_path, options=options, on_retry=retries.append).run()
    return str(info.value), retries


def timed_failure(url, tmp_path, options) -> tuple[str, float]:
    started = time.monotonic()
    reason, _ = failure(url, tmp_path, options)
    return reason, time.monotonic() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """As an operator would make them with openssl: a self-signed certificate, a private CA, and
    two certificates it signed (for localhost/127.0.0.1, and for another name)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    d = tmp_path_factory.mktemp("tls")
    self_signed(
        d / "self.pem", d / "self.key", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"
    )
    self_signed(
        d / "ca.pem",
        d / "ca.key",
        "/CN=Errand test CA",
        "basicConstraints=critical,CA:TRUE",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    for name, san in (("leaf", "DNS:localhost,IP:127.0.0.1"), ("other", "DNS:other.example")):
        (d / f"{name}.ext").write_text(
            f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
        )
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(d / f"{name}.key"),
            "-out",
            str(d / f"{name}.csr"),
            "-subj",
            f"/CN={san.split(',')[0][4:]}",
        )
        openssl(
            "x509",
            "-req",
            "-in",
            str(d / f"{name}.csr"),
            "-CA",
            str(d / "ca.pem"),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            str(d / f"{name}.pem"),
            "-extfile",
            str(d / f"{name}.ext"),
        )
    return d


@pytest.fixture
def tls_origin(pki):
    with Origin(tls=(str(pki / "leaf.pem"), str(pki / "leaf.key"))) as server:
        yield server


def test_connection_refused_is_not_retried(options, tmp_path):
    reason, retries = failure(f"http://127.0.0.1:{free_port()}/x", tmp_path, options(backoff=1.0))
    assert reason == "connection refused" and retries == []


def test_self_signed_certificate_says_so_and_is_not_retried(pki, options, tmp_path):
    with Origin(tls=(str(pki / "self.pem"), str(pki / "self.key"))) as server:
        server.add_file("/s.bin", payload(1000))
        reason, retries = failure(
            server.url("/s.bin", host="localhost"), tmp_path, options(backoff=1.0)
        )
        assert reason == "certificate not trusted: self-signed certificate", reason
        assert retries == [] and len(server.requests) == 0


def test_private_ca_is_not_trusted_by_default(tls_origin, options, tmp_path):
    tls_origin.add_file("/s.bin", payload(1000))
    reason, retries = failure(
        tls_origin.url("/s.bin", host="localhost"), tmp_path, options(backoff=1.0)
    )
    assert reason == "certificate not trusted: unable to get local issuer certificate", reason
    assert retries == []


def test_ca_bundle_setting_trusts_a_private_ca(tls_origin, pki, options, tmp_path):
    data = payload(300_000)
    tls_origin.add_file("/s.bin", data)
    result = Downloader(
        tls_origin.url("/s.bin", host="localhost"),
        dest_dir=tmp_path,
        options=options(ca_bundle=pki / "ca.pem"),
    ).run()
    assert sha(result.path.read_bytes()) == sha(data)


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_ca_file_from_the_environment_is_honoured(
    tls_origin, pki, options, tmp_path, monkeypatch, variable
):
    data = payload(300_000)
    tls_origin.add_file("/e.bin", data)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(pki / "ca.pem"))
    result = Downloader(
        tls_origin.url("/e.bin", host="localhost"), dest_dir=tmp_path, options=options()
    ).run()
    assert sha(result.path.read_bytes()) == sha(data)


def test_certificate_for_another_name_is_refused(pki, options, tmp_path):
    with Origin(tls=(str(pki / "other.pem"), str(pki / "other.key"))) as server:
        server.add_file("/n.bin", payload(1000))
        reason, retries = failure(
            server.url("/n.bin", host="localhost"),
            tmp_path,
            options(ca_bundle=pki / "ca.pem", backoff=1.0),
        )
        assert reason.startswith("certificate not trusted"), reason
        assert retries == []


@pytest.mark.parametrize(
    "target, reason",
    [
        ("file:///etc/passwd", "redirect to a file:// URL is not allowed"),
        ("ftp://example.com/x", "redirect to a ftp:// URL is not allowed"),
        ("gopher://example.com/x", "redirect to a gopher:// URL is not allowed"),
        (
            "http://\u2615\ufe0f.example/x",
            "redirect refused: the host name is not a valid international domain name (IDNA)",
        ),
    ],
)
def test_bad_redirects_are_refused_at_once(origin, options, tmp_path, target, reason):
    origin.add_redirect("/go", target)
    got, retries = failure(origin.url("/go"), tmp_path, options(backoff=1.0))
    assert got == reason and retries == []
    assert len(origin.hits("/go")) == 1


def test_non_idna_host_is_refused_before_any_request(options, tmp_path):
    with pytest.raises(DownloadRefused, match="not a valid international domain name"):
        Downloader("http://\u2615\ufe0f.example/x", dest_dir=tmp_path, options=options())


def test_too_many_headers_is_not_retried(origin, options, tmp_path):
    origin.add_file("/h.bin", payload(1000), extra_headers=150)
    reason, retries = failure(origin.url("/h.bin"), tmp_path, options(backoff=1.0))
    assert reason.startswith("the server's answer is malformed") and retries == [], reason
    assert len(origin.hits("/h.bin")) == 1


def test_a_server_that_never_answers_meets_the_probe_deadline(origin, options, tmp_path):
    origin.add_file("/mute", payload(1000), silent=True)
    reason, took = timed_failure(
        origin.url("/mute"), tmp_path, options(read_timeout=30, deadlines=Deadlines(probe=1.5))
    )
    # Ended by the 1.5 s probe deadline, not by the 30 s read timeout (the bound leaves a busy
    # machine room).
    assert reason == "the server did not answer within 1.5 s" and 1.5 <= took < 15, (reason, took)


def test_one_byte_every_five_seconds_is_stopped_by_the_speed_floor(origin, options, tmp_path):
    origin.add_file("/drip", payload(1000), piece=1, rate=0.2)
    reason, took = timed_failure(
        origin.url("/drip"),
        tmp_path,
        options(read_timeout=30, deadlines=Deadlines(min_speed=100, window=2)),
    )
    # The floor needs a whole 2 s window; the file alone would take over an hour.
    assert reason == "too slow: less than 100 B/s for 2 sec" and 2 <= took < 15, (reason, took)
    assert list(tmp_path.iterdir()) == []


def test_overall_deadline(origin, options, tmp_path):
    origin.add_file("/long", payload(8_000_000), rate=100_000)  # 20 s on 4 connections
    reason, took = timed_failure(
        origin.url("/long"), tmp_path, options(deadlines=Deadlines(min_speed=0, total=1.5))
    )
    assert reason == "took longer than the 2 sec limit for one download", reason
    assert 1.5 <= took < 12, took  # at the deadline, not at the end of the download


def test_cancel_wakes_a_probe_waiting_for_headers(origin, options, tmp_path):
    origin.add_file("/mute", payload(1000), silent=True)
    d = Downloader(origin.url("/mute"), dest_dir=tmp_path, options=options(read_timeout=30))
    outcome = []
    t = threading.Thread(target=lambda: outcome.append(_catch(d.probe)))
    t.start()
    deadline = time.monotonic() + 10
    while not origin.hits("/mute") and time.monotonic() < deadline:
        time.sleep(0.01)
    cancelled_at = time.monotonic()
    d.cancel()
    t.join(20)
    # Woken by the cancel (well within a second on an idle machine), not by the 30 s read timeout.
    assert time.monotonic() - cancelled_at < 10
    assert outcome and isinstance(outcome[0], DownloadCancelled), outcome


def _catch(fn):
    try:
        return fn()
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return exc


def test_speed_floor_rule():
    floor = SlowDownload(min_speed=1000, window=10)
    assert floor.feed(0, 0) is None
    assert floor.feed(5, 100) is None  # not a whole window yet
    assert floor.feed(10, 20_000) is None  # 2 kB/s
    assert str(floor.feed(20, 25_000)) == "too slow: less than 1000 B/s for 10 sec"


def test_a_name_that_does_not_resolve_is_not_retried(options, tmp_path, monkeypatch):
    """NXDOMAIN (the resolver's answer is faked: tests have no DNS): one lookup, the reason."""
    lookups = []

    def nxdomain(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    reason, retries = failure("http://no-such-host.example/x", tmp_path, options(backoff=1.0))
    assert reason == "cannot resolve no-such-host.example (Name or service not known)"
    assert retries == [] and lookups == ["no-such-host.example"]
