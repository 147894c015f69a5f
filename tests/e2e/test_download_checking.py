"""While a link is being checked: the Cancel button works and reads "cancelled", retries are shown,
and one user's hanging links cannot hold every probe worker; and a cancel reads "cancelled" within a
second in every state. Real bot, real origins."""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import OTHER, USER
from tests.e2e.test_downloads import (
    document_for,
    payload,
    sha,
    status_for,
    texts_of,
    wait_text,
)

pytestmark = pytest.mark.timeout(150)


def test_cancel_while_checking_does_not_wait_for_a_silent_server(
    emulator, make_bot, origin
) -> None:
    """The server never answers and the probe would wait 60 s for it: the cancelled status comes
    first (the engine's own test times the wake-up itself: tests/downloads/test_failfast.py)."""
    make_bot(download_probe_timeout="60")
    origin.add_file("/mute", payload(1000), silent=True)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/mute')}")
    status = status_for(emulator, USER, sent)
    emulator.wait_for(
        lambda: origin.hits("/mute") and emulator.get_message(USER, status.message_id).buttons,
        20,
        "a Cancel button while checking",
    )
    emulator.press_button(emulator.get_message(USER, status.message_id), USER)
    final = wait_text(emulator, status, "🚫", timeout=20)  # a third of the probe's 60 s
    assert "cancelled by" in final
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads"))
    assert "🚫" in listing.text and "❌" not in listing.text, listing.text
    assert not any(t.startswith("❌") for t in texts_of(emulator, status))


def test_retries_are_shown_while_checking(emulator, make_bot, origin) -> None:
    make_bot(progress_interval="1")
    data = payload(200_000, seed=50)
    origin.add_file("/busy.bin", data, fail_status=503, fail_times=2, retry_after="2")
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/busy.bin')}")
    status = status_for(emulator, USER, sent)
    shown = wait_text(emulator, status, "🔁", timeout=30)
    assert (
        shown.startswith("🔎 Checking 127.0.0.1/busy.bin…\n🔁 Retrying, ")
        and "of 6: HTTP 503" in shown
    ), shown
    assert emulator.get_message(USER, status.message_id).buttons, "Cancel is offered while retrying"
    document = document_for(emulator, USER, sent)
    assert document.document["sha256"] == sha(data)


def test_one_users_hanging_links_leave_probe_workers_for_others(emulator, make_bot, origin) -> None:
    make_bot(download_probe_timeout="90")
    urls = []
    for n in range(5):
        origin.add_file(f"/hang{n}", payload(1000), silent=True)
        urls.append(origin.url(f"/hang{n}"))
    emulator.send_text(USER, USER, "/download " + " ".join(urls))
    emulator.wait_for(
        lambda: sum(len(origin.hits(f"/hang{n}")) for n in range(5)) >= 2,
        20,
        "the first user's probes to hang",
    )
    data = payload(1000, seed=51)
    origin.add_file("/small.bin", data)
    sent = emulator.send_text(OTHER, OTHER, f"/download {origin.url('/small.bin')}")
    # Within 60 s: before any of the first user's probes could give up (90 s) and free a worker.
    document = document_for(emulator, OTHER, sent, timeout=60)
    assert document.document["sha256"] == sha(data)
    # Only the first user's share of the workers ever waited on the hanging server.
    assert sum(len(origin.hits(f"/hang{n}")) for n in range(5)) == 2


def test_falling_back_to_one_connection_is_said_in_the_status(emulator, make_bot, origin) -> None:
    make_bot(progress_interval="1")
    data = payload(600_000, seed=52)
    origin.add_file("/one.bin", data, ranges=False, rate=150_000)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/one.bin')}")
    shown = wait_text(emulator, status_for(emulator, USER, sent), "ℹ️", timeout=30)
    assert "ℹ️ Using one connection: the server does not support ranges" in shown, shown
    assert document_for(emulator, USER, sent).document["sha256"] == sha(data)


def cancelled_after(emulator, status, user: int = USER) -> float:
    """Press Cancel on ``status``; seconds until it read "cancelled" (by the emulator's clock)."""
    pressed = time.monotonic()
    emulator.press_button(emulator.get_message(user, status.message_id), user)
    wait_text(emulator, status, "🚫", timeout=20)
    history = emulator.get_message(user, status.message_id).history
    return next(at for at, text, _ in history if text and text.startswith("🚫")) - pressed


def test_cancel_reads_cancelled_within_a_second_in_every_state(emulator, make_bot, origin) -> None:
    """Pressed just after the status changed (the moment a person sees it and reacts): checking
    while retrying, waiting in line, downloading, and sending the file. Each status offers the
    button. The "cancelled" edit waited a whole second after the last edit before (three after
    the start of sending)."""
    make_bot(max_active_downloads="1")  # the default progress interval (3 s)
    data = payload(2_400_000, seed=53)
    took = {}
    origin.add_file("/busy.bin", data, fail_status=503, fail_times=50, retry_after="5")
    request = emulator.send_text(USER, USER, f"/download {origin.url('/busy.bin')}")
    status = status_for(emulator, USER, request)
    wait_text(emulator, status, "🔁")
    took["retrying"] = cancelled_after(emulator, status)

    origin.add_file("/run.bin", data, rate=20_000)  # another person's download takes the slot
    running = status_for(
        emulator, OTHER, emulator.send_text(OTHER, OTHER, f"/download {origin.url('/run.bin')}")
    )
    wait_text(emulator, running, "%")
    origin.add_file("/next.bin", data)
    request = emulator.send_text(USER, USER, f"/download {origin.url('/next.bin')}")
    status = status_for(emulator, USER, request)
    wait_text(emulator, status, "⏳")
    took["waiting"] = cancelled_after(emulator, status)
    wait_text(emulator, running, "%  ")  # a progress edit (the bar) just came
    took["downloading"] = cancelled_after(emulator, running, OTHER)

    emulator.upload_rate = 500_000  # a slow uplink: 2.4 MB take about 5 s
    origin.add_file("/send.bin", data)
    request = emulator.send_text(USER, USER, f"/download {origin.url('/send.bin')}")
    status = status_for(emulator, USER, request)
    wait_text(emulator, status, "📤")
    took["sending"] = cancelled_after(emulator, status)
    assert all(seconds <= 1.0 for seconds in took.values()), took
