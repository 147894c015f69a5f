"""A server that goes away in the middle of a download and comes back (issue #12, session 6).

Fail fast makes a refused connection final: a closed port does not open by itself. But a server
that has already answered this download and then refuses is most likely restarting; aria2c and
``curl --retry`` wait for it. The engine does too: once a host has answered (the probe counts),
its refusals and failed name lookups are retried with the download's own policy and backoff,
and only when the policy's tries are spent does the download fail, with the real reason.
Before the first answer nothing changed (tests/downloads/test_failfast.py); a certificate stays
final in both cases.

The server is tests/origin.py in a process of its own (tests/origin_process.py): killing it
closes every connection and leaves its port refusing, as a real restart does.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bot.downloads.engine import Downloader, DownloadError
from bot.downloads.progress import Retrying
from bot.downloads.reasons import Reason
from tests.downloads.conftest import payload, sha
from tests.downloads.test_cli import _cli_process
from tests.downloads.test_failfast import pki  # noqa: F401 - fixture
from tests.heard import Heard
from tests.origin_process import OriginProcess

pytestmark = pytest.mark.timeout(90)

#: The policy of these tests: 8 tries, backoff 0, 0.5, 1, 2, 2, 2, 2 s (urllib3 waits nothing
#: before the first retry): a server gone for good is given up about 9.5 s after it went.
POLICY = dict(max_retries=7, backoff=0.25, backoff_max=2.0)
POLICY_WAIT = 0 + 0.5 + 1 + 2 + 2 + 2 + 2
SIZE = 3_000_000
RATE = 250_000  # per connection: about 3 s on four connections


class Run:
    """A download in a thread, with the retries it reports."""

    def __init__(self, url: str, dest: Path, options, **kwargs) -> None:
        self.retries = Heard[Retrying]()
        self.downloader = Downloader(
            url, dest_dir=dest, options=options, on_retry=self.retries.add, **kwargs
        )
        self.outcome: object = None
        self.ended_at: float | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Run:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.outcome = self.downloader.run()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.outcome = exc
        self.ended_at = time.monotonic()

    def wait_retry(self, code: Reason, timeout: float = 30) -> Retrying:
        """Until a retry for ``code`` is reported (the download is waiting for the server)."""
        return self.retries.wait(
            lambda r: r.reason.code == code, timeout, f"retry for {code}", self._thread.is_alive
        )

    def join(self, timeout: float = 60) -> object:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the download did not end"
        return self.outcome


@pytest.fixture
def served(tmp_path) -> tuple[bytes, Path]:
    data = payload(SIZE)
    file = tmp_path / "served.bin"
    file.write_bytes(data)
    dest = tmp_path / "out"
    dest.mkdir()
    return data, file


def test_a_server_that_restarts_mid_download_is_waited_for(served, options, tmp_path):
    data, file = served
    with OriginProcess(file, rate=RATE) as server:
        port = server.start(flowing=SIZE // 4)
        run = Run(server.url(), tmp_path / "out", options(**POLICY)).start()
        server.wait_flowing()
        server.kill()
        refused = run.wait_retry(Reason.CONNECTION_REFUSED)
        assert refused.total == POLICY["max_retries"] + 1
        server.start(port)
        result = run.join()
    assert not isinstance(result, BaseException), result
    assert sha(result.path.read_bytes()) == sha(data)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f.bin"]


def test_a_server_that_does_not_come_back_fails_with_the_real_reason_in_the_policys_time(
    served, options, tmp_path
):
    _, file = served
    with OriginProcess(file, rate=RATE) as server:
        server.start(flowing=SIZE // 4)
        run = Run(server.url(), tmp_path / "out", options(**POLICY)).start()
        server.wait_flowing()
        server.kill()
        gone_at = time.monotonic()
        outcome = run.join()
    assert isinstance(outcome, DownloadError), outcome
    assert str(outcome) == "connection refused (gave up after 8 tries)"
    took = run.ended_at - gone_at
    # Every wait of the policy (jitter only adds), and far less than forever on a busy machine.
    assert POLICY_WAIT <= took < POLICY_WAIT + 20, took


def test_a_name_that_fails_for_a_moment_after_the_probe_is_waited_for(
    origin, options, tmp_path, monkeypatch
):
    """The resolver fails three lookups once the host has answered (tests have no DNS: the
    name ``origin.test`` is answered by a fake resolver that gives the origin's address)."""
    data = payload(1_000_000)
    origin.add_file("/d.bin", data)
    real = socket.getaddrinfo
    failing = {"left": 0}
    lookups: list[str] = []

    def resolver(host, port, *args, **kwargs):
        if host != "origin.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        if failing["left"]:
            failing["left"] -= 1
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    dest = tmp_path / "out"
    dest.mkdir()
    run = Run(f"http://origin.test:{origin.port}/d.bin", dest, options(**POLICY))
    run.downloader.probe()
    failing["left"] = 3
    run.start()
    result = run.join()
    assert not isinstance(result, BaseException), result
    assert sha(result.path.read_bytes()) == sha(data)
    assert failing["left"] == 0
    why = next(r.reason for r in run.retries.items if r.reason.code == Reason.CANNOT_RESOLVE)
    assert str(why) == "cannot resolve origin.test (Temporary failure in name resolution)"


def test_a_name_that_never_resolved_is_still_final(options, tmp_path, monkeypatch):
    """The same failure before any answer: one lookup, no retry (as test_failfast's NXDOMAIN)."""

    def resolver(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    run = Run("http://origin.test/x", tmp_path, options(**POLICY)).start()
    outcome = run.join()
    assert str(outcome) == "cannot resolve origin.test (Temporary failure in name resolution)"
    assert run.retries.items == []


def test_a_refusal_from_another_host_than_the_one_that_answered_is_still_final(
    origin, options, tmp_path
):
    """A redirect to a closed port: the server that answered (the redirect) is not the one that
    refuses, so nothing says it is restarting."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    origin.add_redirect("/go", f"http://127.0.0.1:{closed}/x")
    started = time.monotonic()
    run = Run(origin.url("/go"), tmp_path, options(**POLICY)).start()
    outcome = run.join()
    assert str(outcome) == "connection refused" and run.retries.items == []
    assert time.monotonic() - started < 3


def test_a_certificate_stays_final_after_a_restart(served, pki, options, tmp_path):  # noqa: F811
    """The server comes back with a certificate nobody trusts: no retry makes that right."""
    _, file = served
    leaf = (pki / "leaf.pem", pki / "leaf.key")
    with OriginProcess(file, rate=RATE, tls=leaf) as server:
        port = server.start(flowing=SIZE // 4)
        url = server.url(host="localhost")
        run = Run(url, tmp_path / "out", options(ca_bundle=pki / "ca.pem", **POLICY)).start()
        server.wait_flowing()
        server.kill()
        run.wait_retry(Reason.CONNECTION_REFUSED)
        server.tls = (pki / "self.pem", pki / "self.key")
        server.start(port)
        outcome = run.join()
    assert str(outcome) == "certificate not trusted: self-signed certificate", outcome


def test_origin_process_serves_the_same_file_after_a_restart(served, tmp_path):
    """The test server itself: same port, same bytes, and a refusal while it is away."""
    data, file = served
    with OriginProcess(file, rate=10_000_000) as server:
        port = server.start()
        server.kill()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        assert server.start(port) == port
        with urllib.request.urlopen(server.url(), timeout=10) as answer:
            assert sha(answer.read()) == sha(data)


@pytest.mark.e2e
def test_errandbot_download_says_it_retries_and_finishes_after_the_restart(served, tmp_path):
    """The real command, default retry policy (5 retries, about 15 s of backoff in all)."""
    data, file = served
    out = tmp_path / "out"
    with OriginProcess(file, rate=RATE) as server:
        port = server.start(flowing=SIZE // 4)
        proc = _cli_process(server.url(), out)
        err = Heard[str]()
        err.follow(proc.stderr)
        server.wait_flowing()
        server.kill()
        line = err.wait(
            lambda line: "connection refused; retrying" in line,
            30,
            "retry line",
            lambda: proc.poll() is None,
        )
        server.start(port)
        stdout = proc.stdout.read()  # to its end: the process has ended (or the test timed out)
        proc.wait(10)
    assert proc.returncode == 0, err.items
    assert line.startswith("errandbot: connection refused; retrying, ") and line.endswith(" of 6")
    saved = out / "f.bin"
    assert stdout.strip() == str(saved.resolve())
    assert sha(saved.read_bytes()) == sha(data)
    assert sorted(p.name for p in out.iterdir()) == ["f.bin"]
