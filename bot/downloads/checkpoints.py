"""The resume record of a ranged download, kept fresh while workers write.

Every :data:`CHECKPOINT_INTERVAL` a record of what was written (no sync: a killed process loses
nothing in the page cache); every :data:`SYNC_INTERVAL` one whose ranges were fdatasynced first,
for the case of a reboot (see :mod:`bot.downloads.resume`) — but none while the rest should
arrive within :data:`NEAR_END` seconds: each one forces everything written to disk, which on a
fast link means hundreds of MB mid-download (measured: 1 GiB over loopback 2.9 s with, 1.8 s
without). fsync can block for a second or more, so the loop runs on its own thread, off the
supervising one.

Each record also carries the digests of the pieces of what it claims
(:meth:`~bot.downloads.segments.SegmentMap.snapshot`), when the map keeps them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from bot.downloads import resume
from bot.downloads.segments import SegmentMap

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = 1.0
SYNC_INTERVAL = 30.0
NEAR_END = 3.0


class Checkpoints:
    """Writes ``state`` (the record at ``ctl``) from ``segmap``, for the ``.part`` file ``fd``."""

    def __init__(
        self, fd: int, ctl: Path, state: resume.ResumeState, segmap: SegmentMap, label: str
    ) -> None:
        self.fd, self.ctl, self.state, self.segmap = fd, ctl, state, segmap
        self.label = label  # the URL, masked, for the log
        self.ended = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="download-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def end(self, wait: bool) -> None:
        """No more periodic records (a final one is written with :meth:`save`); with ``wait``, once
        the loop is gone, so that an older record cannot overwrite the last one."""
        with self._lock:
            self.ended.set()
        if wait:
            self._thread.join()

    def _loop(self) -> None:
        segmap, state = self.segmap, self.state
        started, done_at_start = time.monotonic(), segmap.done_bytes
        last_sync = started
        while not self.ended.wait(CHECKPOINT_INTERVAL):
            sync = time.monotonic() - last_sync >= SYNC_INTERVAL
            fetched = segmap.done_bytes - done_at_start
            if sync and fetched > 0 and state.size is not None:
                rate = fetched / (time.monotonic() - started)
                if (state.size - segmap.done_bytes) / rate < NEAR_END:
                    sync = False  # nearly done: a power cut now would cost less than the sync
            try:
                self.save(sync=sync, unless_ended=True)
            except OSError as exc:
                log.warning("%s: cannot save the resume record: %s", self.label, exc)
            if sync:
                last_sync = time.monotonic()

    def save_last(self) -> None:
        """The record at the end of a run that did not finish, synced. A record that cannot be
        written (a full disk) must not hide why the run ended: the older one stays."""
        try:
            self.save(sync=True)
        except OSError as exc:
            log.info("%s: cannot save the resume record: %s", self.label, exc)

    def save(self, sync: bool, unless_ended: bool = False) -> None:
        """Record what was written; with ``sync``, fdatasync it first and mark it synced."""
        # Read before any sync: only what is already written, with the digests of exactly it.
        done, pieces = self.segmap.snapshot()
        if sync:
            os.fdatasync(self.fd)
        with self._lock:
            if unless_ended and self.ended.is_set():
                return  # the download ended meanwhile; its final state is written by its end
            self.state.done, self.state.pieces = done, pieces
            if sync:
                self.state.synced = done
            resume.save(self.ctl, self.state, sync=sync)
