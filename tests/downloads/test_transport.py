"""The transport's reach into urllib3's private attributes, and the one exception boundary.

transport.py is the only module that touches urllib3 internals: a pool's ``_get_conn`` and
``_put_conn`` (to know which connections are in use), a response's ``_connection`` (to shut its
socket down) and ``_fp`` (to ``readinto`` a body without a copy). Each test here fails loudly —
naming the attribute — when a urllib3 upgrade moves one, instead of the engine silently losing
its fast path or its ability to stop a blocked read.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
import requests
from urllib3.connectionpool import HTTPConnectionPool

from bot.downloads.body import BodyReader
from bot.downloads.errors import NetworkFailed, NetworkRetryable
from bot.downloads.reasons import Reason
from bot.downloads.transport import (
    PinnedAdapter,
    abort_response,
    body_file,
    make_session,
    network_errors,
)
from tests.downloads.conftest import LOOPBACK, payload
from tests.origin import Origin


def _adapter(session: requests.Session) -> PinnedAdapter:
    adapter = session.get_adapter("http://127.0.0.1/")
    assert isinstance(adapter, PinnedAdapter)
    return adapter


def test_urllib3_pool_still_has_the_methods_the_tracking_pool_overrides() -> None:
    for name in ("_get_conn", "_put_conn"):
        assert callable(getattr(HTTPConnectionPool, name, None)), (
            f"urllib3 no longer has HTTPConnectionPool.{name}"
        )


def test_connections_in_use_are_tracked_and_released(origin: Origin) -> None:
    origin.add_file("/t.bin", payload(64 * 1024))
    session = make_session(LOOPBACK)
    resp = session.get(origin.url("/t.bin"), stream=True)
    in_use = list(_adapter(session)._checked_out)
    assert len(in_use) == 1, "the pool's _get_conn override no longer sees connections taken"
    resp.content  # noqa: B018 - read it whole, which puts the connection back
    resp.close()
    assert not list(_adapter(session)._checked_out), (
        "the pool's _put_conn override no longer sees returns"
    )


def test_the_body_is_read_from_http_client_directly(origin: Origin) -> None:
    origin.add_file("/b.bin", payload(64 * 1024))
    resp = make_session(LOOPBACK).get(origin.url("/b.bin"), stream=True)
    assert isinstance(body_file(resp), http.client.HTTPResponse), (
        "urllib3 no longer keeps the http.client response as ._fp: bodies are read with an extra copy"
    )
    resp.close()


def test_abort_response_wakes_a_read_blocked_on_a_stalled_body(origin: Origin) -> None:
    origin.add_file("/s.bin", payload(256 * 1024), stall_after=1024, stall_seconds=30)
    resp = make_session(LOOPBACK).get(origin.url("/s.bin"), stream=True, timeout=(5, 30))
    assert (
        getattr(resp.raw, "_connection", None) is not None
        or getattr(resp.raw, "connection", None) is not None
    ), "urllib3 keeps the response's connection under neither ._connection nor .connection"
    outcome: list[BaseException | int] = []

    def read() -> None:
        body = BodyReader(resp)
        total = 0
        try:
            while chunk := body.read():
                total += len(chunk)
        except BaseException as exc:  # noqa: BLE001 - what the abort raised is the result
            outcome.append(exc)
            return
        outcome.append(total)

    reader = threading.Thread(target=read)
    reader.start()
    deadline = (
        time.monotonic() + 5
    )  # the server has sent its 1 KiB and stalls (the read blocks, or will)
    while origin.bytes_sent("/s.bin") < 1024 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    abort_response(resp)
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - started < 2, (
        "abort_response did not wake the read"
    )
    assert outcome and not (isinstance(outcome[0], int) and outcome[0] == 256 * 1024)
    resp.close()


def test_abort_all_wakes_a_request_waiting_for_its_headers(origin: Origin) -> None:
    origin.add_file("/mute", b"x", silent=True)
    session = make_session(LOOPBACK)
    failed: list[BaseException] = []

    def ask() -> None:
        try:
            with network_errors():
                session.get(origin.url("/mute"), stream=True, timeout=(5, 30))
        except BaseException as exc:  # noqa: BLE001
            failed.append(exc)

    asking = threading.Thread(target=ask)
    asking.start()
    deadline = time.monotonic() + 5
    while (
        not origin.hits("/mute") and time.monotonic() < deadline
    ):  # asked: now waiting for headers
        time.sleep(0.01)
    _adapter(session).abort_all()
    asking.join(5)
    assert not asking.is_alive(), "abort_all did not wake a request waiting for headers"
    assert failed and isinstance(failed[0], NetworkRetryable | NetworkFailed), failed


def test_library_errors_leave_as_errands_own() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(NetworkFailed) as refused:
        with network_errors():
            make_session(LOOPBACK).get(f"http://127.0.0.1:{port}/x", timeout=2)
    assert refused.value.code is Reason.CONNECTION_REFUSED
    assert isinstance(
        refused.value.__cause__, requests.ConnectionError
    )  # the original stays as the cause
    with pytest.raises(NetworkRetryable) as timed_out:
        with network_errors():
            raise requests.ReadTimeout("read timed out")
    assert timed_out.value.why.code is Reason.TIMED_OUT


def test_a_short_body_just_ends_early(origin: Origin) -> None:
    """http.client's readinto does not raise on a body cut short: the engine counts the bytes
    (Reason.CLOSED_EARLY for a range, Reason.BODY_SHORT for the stream)."""
    origin.add_file("/cut.bin", payload(256 * 1024), cut_after=1024)
    resp = make_session(LOOPBACK).get(origin.url("/cut.bin"), stream=True, timeout=(5, 5))
    body = BodyReader(resp)
    total = 0
    while chunk := body.read():
        total += len(chunk)
    assert total < 256 * 1024
    resp.close()
