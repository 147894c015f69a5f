"""Limits hold on the bytes that really arrive, not on what a server announced.

Real bot process, real origin: a size that grows after the probe, and several downloads of
unknown size at once, against the daily quota.
"""

from __future__ import annotations

import pytest

from bot.humanize import MiB as MB
from tests.e2e.harness import USER
from tests.e2e.test_downloads import (
    payload,
    status_for,
    wait_text,
)

pytestmark = pytest.mark.timeout(150)


def test_a_size_that_grows_after_the_probe_cannot_pass_the_quota(
    emulator, make_bot, origin
) -> None:
    """The probes (the bot's and the download process's) see 1,000 bytes; the GET sends 5 MiB."""
    bot = make_bot(daily_quota_mb="2")
    origin.add_file(
        "/grow.bin",
        payload(1000, seed=40),
        ranges=False,
        then=payload(5 * MB, seed=41),
        then_after=2,
    )
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/grow.bin')}")
    refusal = wait_text(emulator, status_for(emulator, USER, sent), "❌", timeout=60)
    assert "daily quota of 2.0 MB" in refusal, refusal
    assert not [m for m in emulator.bot_messages(USER) if m.document]
    assert not [p for p in (bot.data_dir / "downloads").rglob("*") if p.is_file()]


def test_downloads_of_unknown_size_share_one_quota_as_bytes_arrive(
    emulator, make_bot, origin
) -> None:
    """Two 1.5 MiB streams of unknown size at once against a 2 MiB quota: the quota holds.

    Bytes a stopped download moved still count (else failing downloads on purpose would burn
    bandwidth for free), so which of the two ends delivered depends on timing: at least one is
    stopped with the quota as its reason, and what is delivered stays within the quota.
    """
    make_bot(daily_quota_mb="2", progress_interval="1")
    sent = []
    for n in range(2):
        origin.add_file(
            f"/s{n}.bin",
            payload(int(1.5 * MB), seed=42 + n),
            ranges=False,
            chunked=True,
            rate=250_000,
        )
        sent.append(emulator.send_text(USER, USER, f"/download {origin.url(f'/s{n}.bin')}"))

    def outcome():
        docs = [m for m in emulator.bot_messages(USER) if m.document]
        failed = [
            emulator.get_message(USER, status_for(emulator, USER, s).message_id).text or ""
            for s in sent
        ]
        failed = [t for t in failed if t.startswith("❌")]
        return (docs, failed) if len(docs) + len(failed) == 2 else None

    docs, failed = emulator.wait_for(outcome, 90, "both downloads to end")
    assert failed, (docs, failed)
    assert all("daily quota of 2.0 MB" in text for text in failed), failed
    assert sum(d.document["file_size"] for d in docs) <= 2 * MB
