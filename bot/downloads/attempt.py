"""One try at a probed file: from its resume record to the renamed, checked result.

It decides what can be trusted of a previous run (:meth:`Attempt._start_record`, then
:meth:`Attempt._trusted`: the digests of the record's pieces checked on disk, or, for a record
without digests, a few windows compared with the server when asked: :mod:`bot.downloads.verify`),
fetches the rest over ranges (:mod:`bot.downloads.multi`) or, when ranges cannot be used, one
stream (:mod:`bot.downloads.single`) that reuses what ranges already wrote, hashes the file as it
grows (:class:`~bot.downloads.hashing.PrefixHasher`), and on failure keeps the ``.part`` file
and its record only when a re-run can resume from them. A
:class:`~bot.downloads.errors.FileChanged` ends the attempt;
:class:`~bot.downloads.engine.Downloader` then probes again and starts another.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.downloads import provenance, resume, verify
from bot.downloads.api import DownloadOptions, ProbeResult
from bot.downloads.checkpoints import Checkpoints
from bot.downloads.checks import RangesUnusable, check_ranged
from bot.downloads.client import Client
from bot.downloads.control import Control
from bot.downloads.errors import (
    DownloadCancelled,
    DownloadError,
    DownloadRefused,
    RetriesExhausted,
)
from bot.downloads.hashing import PrefixHasher
from bot.downloads.multi import RangedFetch
from bot.downloads.netguard import mask_url
from bot.downloads.progress import Progress
from bot.downloads.reasons import Reason, Why
from bot.downloads.retries import RetryPolicy
from bot.downloads.segments import Range, SegmentMap, intersect, merge, size_of
from bot.downloads.single import StreamFetch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """What an attempt produced: the final file, its size, SHA-256 (hex, or "") and how many
    bytes a previous run had already fetched."""

    path: Path
    size: int
    sha256: str
    resumed_from: int


class Attempt:
    """Fetch ``probe`` into ``part`` (renamed to ``final`` at the end); see the module docstring."""

    def __init__(
        self,
        url: str,
        options: DownloadOptions,
        control: Control,
        client: Client,
        policy: RetryPolicy,
        ranged: RangedFetch,
        *,
        expected: tuple[str, str] | None,
        notice: Callable[[Why], None],
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.url, self.options, self.control = url, options, control
        self.client, self.policy = client, policy
        self.ranged = ranged  # one per download: what it learnt of the server outlives an attempt
        self.expected = expected
        self.notice = notice
        self.on_progress = on_progress

    def run(self, probe: ProbeResult, part: Path, final: Path) -> Fetched:
        ctl = resume.control_path(part)
        self.control.restart()
        record, done = self._start_record(probe, part, ctl)
        fd = _claim(part, ctl, record)
        keep: bool | None = False  # None once finished
        try:
            done = self._trusted(fd, probe, record, done)
            size, digests, resumed = self._fetch(fd, probe, part, ctl, record, done)
            keep = None
        except DownloadCancelled:
            keep = self.control.keep_partial and record.resumable
            raise
        except (KeyboardInterrupt, RetriesExhausted):
            keep = record.resumable  # the same command (or the restarted job) resumes
            raise
        except DownloadError:
            keep = False  # given up for good: nothing to resume, nothing left behind
            raise
        except BaseException:
            keep = record.resumable
            raise
        finally:
            if keep is not None:  # failed: close once no worker writes; keep or remove the files
                self._end_partial(fd, part, ctl, keep=keep)
        os.close(fd)
        if self.expected:
            alg, want = self.expected
            got = digests[alg]
            if got != want:
                _remove(part, ctl, _tmp_of(ctl))
                raise DownloadError(
                    Reason.CHECKSUM_MISMATCH, alg=alg, expected=want[:12], actual=got[:12]
                )
        source = provenance.source(self.url, probe.size, probe.validator)
        if source is not None:  # a re-run of this download finds it finished
            provenance.mark(part, source)
        os.replace(part, final)
        _remove(ctl, _tmp_of(ctl))
        return Fetched(
            path=final, size=size, sha256=digests.get("sha256", ""), resumed_from=resumed
        )

    def _fetch(
        self,
        fd: int,
        probe: ProbeResult,
        part: Path,
        ctl: Path,
        record: resume.ResumeState,
        done: list[Range],
    ) -> tuple[int, dict[str, str], int]:
        """The bytes: ranges when the server allows them, else (or when they fail) one stream.
        Returns the size, the digests and the bytes resumed from."""
        hasher: PrefixHasher | None = None
        resumed = 0
        kept = 0  # bytes from offset 0 already on disk when ranges turn out unusable
        try:
            if probe.resumable and probe.size is not None:
                if not done:
                    _empty(fd)
                os.ftruncate(fd, probe.size)
                segmap = SegmentMap(
                    probe.size, done=done, min_split=self.options.min_split, pieces=record.pieces
                )
                resumed = segmap.done_bytes
                hasher = self._hasher(part, segmap.contiguous_prefix)
                try:
                    self.ranged.run(
                        fd, segmap, probe, Checkpoints(fd, ctl, record, segmap, mask_url(self.url))
                    )
                    size = probe.size
                except RangesUnusable as exc:
                    self.ranged.join()  # every old worker gone before the file is reused
                    self.control.restart()
                    hasher.abandon()
                    kept = segmap.contiguous_prefix()
                    self.notice(Why.of(Reason.ONE_CONNECTION, exc.why))
                    log.info(
                        "%s: keeping the first %d bytes; the stream is compared with them",
                        mask_url(self.url),
                        kept,
                    )
                    hasher, resumed = None, 0
                    record = resume.ResumeState(
                        url=self.url,
                        size=None,
                        validator=probe.validator,
                        final_url=probe.final_url,
                    )
                    resume.save(ctl, record, sync=False)
            if hasher is None:
                if not kept:
                    _empty(fd)
                stream = StreamFetch(
                    self.client,
                    self.control,
                    self.policy,
                    max_bytes=self.options.max_bytes,
                    on_progress=self.on_progress,
                )
                hasher = self._hasher(part, lambda: stream.written)
                size = stream.run(fd, probe, kept)
            # No fsync of the finished data (curl and aria2 do none either): it would make every
            # download wait for the disk. The resume record's ``synced`` ranges were fsynced; its
            # ``done`` ranges only reached the page cache (see bot.downloads.resume).
            actual = os.fstat(fd).st_size
            if actual != size:
                raise DownloadError(Reason.SIZE_CHECK, expected=size, actual=actual)
            digests = hasher.finish(size) if hasher.hashes else {"sha256": ""}
            return size, digests, resumed
        finally:
            if hasher is not None:
                hasher.abandon()

    def _start_record(
        self, probe: ProbeResult, part: Path, ctl: Path
    ) -> tuple[resume.ResumeState, list[Range]]:
        """The record for this run, and the ranges a previous run left that can be trusted.

        A previous record is trusted only for the same URL, size and validator, a matching
        checksum (:func:`resume.load`) and a ``.part`` file of exactly the recorded size (a
        truncated or replaced file starts over).
        """
        record = resume.ResumeState(
            url=self.url,
            size=probe.size if probe.resumable else None,
            validator=probe.validator,
            final_url=probe.final_url,
            pieces=[] if self.options.record_digests and probe.resumable else None,
        )
        old = resume.load(ctl) if ctl.exists() else None
        if ctl.exists() and old is None:
            self.notice(Why.of(Reason.RESUME_DAMAGED))
        if not probe.resumable or old is None or old.url != self.url or not old.resumable:
            return record, []
        if old.size != probe.size:
            self.notice(Why.of(Reason.CHANGED_SIZE))
            return record, []
        if old.validator != probe.validator:
            self.notice(Why.of(Reason.CHANGED_ETAG))
            return record, []
        done = old.trusted_done()
        try:
            on_disk: int | None = part.stat().st_size
        except FileNotFoundError:
            on_disk = None
        if done and on_disk != old.size:
            self.notice(Why.of(Reason.PARTIAL_RECORD_MISMATCH))
            return record, []
        record.done, record.synced = done, old.synced  # synced ranges stay synced
        record.pieces = old.pieces  # checked by _trusted, once the file is open (None: no digests)
        return record, done

    def _trusted(
        self, fd: int, probe: ProbeResult, record: resume.ResumeState, done: list[Range]
    ) -> list[Range]:
        """What of ``done`` (the record's claim) the file really holds; ``record`` is updated.

        With digests, each recorded piece is read back and its digest compared: bytes that fail,
        or that no digest covers, are fetched again, and the notice says how many. Without
        them (an older record), the spot check against the server (``verify_resumed``) decides
        for all or nothing; the bytes it lets through get digests computed from the disk.
        """
        recording = self.options.record_digests and record.resumable
        if not done:
            record.pieces = [] if recording else None
            return done
        done = merge(done)
        if record.pieces is not None:
            good = verify.intact(fd, done, record.pieces)
            kept = verify.covered(good)
            lost = size_of(done) - size_of(kept)
            if lost:
                log.info("%s: %d claimed bytes failed their digests", mask_url(self.url), lost)
                self.notice(Why.of(Reason.PARTIAL_REFETCHED, refetched_bytes=lost))
            record.done, record.synced = kept, intersect(merge(record.synced), kept)
            record.pieces = good if recording else None
            return kept
        if self.options.verify_resumed and not self._verified(fd, probe, done):
            self.notice(Why.of(Reason.PARTIAL_MISMATCH))
            record.done, record.synced = [], []
            record.pieces = [] if recording else None
            return []
        record.pieces = verify.digest(fd, done) if recording else None
        return done

    def _verified(self, fd: int, probe: ProbeResult, done: list[Range]) -> bool:
        """Whether the claimed ranges on disk match the server (see :mod:`bot.downloads.verify`)."""

        def fetch(first: int, last: int) -> bytes:
            headers = {"Range": f"bytes={first}-{last}"}
            if probe.validator:
                headers["If-Range"] = probe.validator
            resp = self.client.request(probe.final_url, headers, self.policy)
            try:
                check_ranged(resp, first, last, probe.size, probe.validator)
                return self.client.read(resp, last - first + 2)
            finally:
                self.client.release(resp)

        try:
            return verify.matches(fd, done, fetch)
        except RangesUnusable:
            return False

    def _hasher(self, part: Path, available: Callable[[], int]) -> PrefixHasher:
        algs = ([self.expected[0]] if self.expected else []) + (
            ["sha256"] if self.options.compute_sha256 else []
        )
        hasher = PrefixHasher(part, available, algs)
        if algs:
            hasher.start()
        return hasher

    def _end_partial(self, fd: int, part: Path, ctl: Path, keep: bool) -> None:
        """Close the ``.part`` file once no worker can write to it; keep it or remove it."""
        alive = [t for t in self.ranged.workers if t.is_alive()]
        if alive:  # a worker stuck in connect(): close the fd only after it is gone
            threading.Thread(target=_close_after, args=(alive, fd), daemon=True).start()
        else:
            os.close(fd)
        if not keep:
            _remove(part, ctl, _tmp_of(ctl))


def _claim(part: Path, ctl: Path, record: resume.ResumeState) -> int:
    """Open ``part`` for this run, locked, with ``record`` saved beside it.

    The record exists before the ``.part`` file does: a kill at any moment leaves a ``.part``
    that the next run recognises as its own. The lock (``flock``, released when the process
    ends, however it ends) tells a second run of the same command, started while the first
    still runs, to leave the file alone instead of writing into it too.
    """
    try:
        fd = os.open(part, os.O_RDWR | os.O_NOFOLLOW)
        new = False
    except FileNotFoundError:
        resume.save(ctl, record, sync=True)
        fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        new = True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DownloadRefused(Why.text(f"another download is writing {part.name} now")) from None
    except OSError:
        pass  # a file system without locks: as before
    if not new:
        resume.save(ctl, record, sync=True)
    return fd


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _tmp_of(ctl: Path) -> Path:
    return ctl.with_name(ctl.name + ".tmp")


def _empty(fd: int) -> None:
    """Truncate to zero bytes, but only a file that has some.

    ext4 (``auto_da_alloc``) treats a file truncated to zero as "being replaced" and writes all of
    its data out when it is next closed; for a fresh 1 GiB download that cost 0.3 s at close and a
    second more in a stalled journal. A new ``.part`` file is empty already.
    """
    if os.fstat(fd).st_size:
        os.ftruncate(fd, 0)


def _close_after(threads: list[threading.Thread], fd: int) -> None:
    for t in threads:
        t.join()
    os.close(fd)
