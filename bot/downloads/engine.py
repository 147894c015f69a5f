"""The download engine: probe a URL, fetch it over several Range connections, verify, rename.

It knows nothing of Telegram; the bot (from worker threads) and ``errandbot download`` both use
it the same way::

    d = Downloader(url, dest_dir=Path("out"), options=DownloadOptions(connections=8))
    probe = d.probe()          # name, size, final URL, resumable?
    result = d.run()           # blocks; resumes from NAME.part + NAME.part.json when present
    d.cancel(keep_partial=True)   # from any thread; run() raises DownloadCancelled within 1 s

:class:`Downloader` is the face; the work is layered below it, as httpx layers a client over its
transports:

- :mod:`~bot.downloads.attempt` — one try at the file: resume record, ranges or one stream,
  hash, rename (a file that changes on the server ends the try; the Downloader starts another);
- :mod:`~bot.downloads.multi` — several Range connections (supervisor, workers, fetches) and
  :mod:`~bot.downloads.checkpoints` — the resume record kept fresh meanwhile;
- :mod:`~bot.downloads.single` — one plain stream, for servers whose ranges cannot be used;
- :mod:`~bot.downloads.checks` — what an answer's status and headers mean (pure);
- :mod:`~bot.downloads.retries` — the one retry policy; :mod:`~bot.downloads.client` and
  :mod:`~bot.downloads.transport` — the requests, and the only place that knows the HTTP
  libraries (their exceptions become Errand's own there);
- :mod:`~bot.downloads.control` — stop, cancel, deadline and first failure, shared by all.

Every reason is a :class:`~bot.downloads.reasons.Why` (a code with parameters): the chat layer
words it; ``str()`` of an error is its English sentence.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.downloads import naming, provenance, resume
from bot.downloads.api import DownloadOptions, DownloadResult, ProbeResult, RunningDownload
from bot.downloads.attempt import Attempt
from bot.downloads.checks import read_probe
from bot.downloads.client import Client
from bot.downloads.control import Control
from bot.downloads.errors import (
    DownloadCancelled,
    DownloadError,
    DownloadRefused,
    FileChanged,
    TooLarge,
)
from bot.downloads.hashing import PrefixHasher, parse_checksum
from bot.downloads.multi import RangedFetch
from bot.downloads.netguard import mask_url, url_problem
from bot.downloads.progress import Progress, Retrying
from bot.downloads.reasons import Reason, Why
from bot.downloads.retries import RetryPolicy
from bot.downloads.transport import make_session
from bot.downloads.watchdog import SlowDownload, over_deadline
from bot.humanize import MiB

__all__ = [
    "DownloadCancelled",
    "DownloadError",
    "DownloadOptions",
    "DownloadRefused",
    "DownloadResult",
    "Downloader",
    "FileChanged",
    "MiB",
    "ProbeResult",
    "Progress",
    "RunningDownload",
]

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
WATCH_INTERVAL = 0.5  # how often the deadlines are looked at
MAX_RESTARTS = 2  # "file changed" restarts within one run before giving up
MAX_NAME_TRIES = 1000  # name, name (1), … name (999)


class Downloader:
    """One download of ``url`` into ``dest_dir``. See the module docstring for the life cycle."""

    def __init__(
        self,
        url: str,
        dest_dir: Path,
        options: DownloadOptions | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        name: str | None = None,
        on_notice: Callable[[Why], None] | None = None,
        on_retry: Callable[[Retrying], None] | None = None,
    ) -> None:
        reason = url_problem(url)
        if reason:
            raise DownloadRefused(reason)
        self.url = url
        self.dest_dir = Path(dest_dir)
        self.options = options or DownloadOptions()
        self.on_progress = on_progress
        self.on_notice = on_notice
        self.on_retry = on_retry
        self.requested_name = name
        self.connections = max(1, min(MAX_CONNECTIONS, self.options.connections))
        self.expected = parse_checksum(self.options.checksum) if self.options.checksum else None
        self.probe_result: ProbeResult | None = None
        self.part_path: Path | None = None
        self.final_path: Path | None = None
        self._finished: Path | None = None  # a finished file of this download, already there
        options = self.options
        self._control = Control()
        self._client = Client(
            make_session(options.allow_networks, self.connections, options.ca_bundle),
            self._control,
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
        )
        self._control.abort = self._client.abort_all
        self._policy = RetryPolicy(
            url,
            self._control,
            max_retries=options.max_retries,
            backoff=options.backoff,
            backoff_max=options.backoff_max,
            retry_after_max=options.retry_after_max,
            on_retry=on_retry,
        )
        self._ranged = RangedFetch(
            self._client,
            self._control,
            self._policy,
            connections=self.connections,
            on_progress=on_progress,
        )
        self._notices: list[Why] = []

    # ------------------------------------------------------------------ public
    def cancel(self, keep_partial: bool = False) -> None:
        """Stop all workers (from any thread); :meth:`run` raises DownloadCancelled."""
        self._control.cancel(keep_partial)

    def probe(self) -> ProbeResult:
        """Ask for byte 0 only, learn size, validator, final URL and name; pick the file name.

        Bounded by ``deadlines.probe`` seconds in all (retries included): a server that accepts
        connections but never answers cannot hold the caller longer.
        """
        limit = self.options.deadlines.probe
        timer = threading.Timer(
            limit, self._control.halt, args=(DownloadError(Reason.NO_ANSWER, seconds=float(limit)),)
        )
        timer.daemon = True
        timer.start()
        try:
            return self._probe()
        finally:
            timer.cancel()

    def _probe(self) -> ProbeResult:
        resp = self._client.request(self.url, {"Range": "bytes=0-0"}, self._policy)
        try:
            facts = read_probe(resp)
            headers = resp.headers
            final_url = resp.url
            name = (
                naming.sanitize(self.requested_name)
                if self.requested_name
                else naming.derive(
                    final_url, headers.get("Content-Disposition"), headers.get("Content-Type")
                )
            )
        finally:
            self._client.release(resp)
        source = provenance.source(self.url, facts.size, facts.validator)
        final = self._choose_paths(name, source)
        self.probe_result = ProbeResult(
            name=final.name,
            size=facts.size,
            final_url=final_url,
            resumable=facts.resumable,
            validator=facts.validator,
            content_type=headers.get("Content-Type"),
            single_reason=facts.single_reason,
        )
        return self.probe_result

    def first_bytes(self, count: int = 512) -> bytes:
        """Up to ``count`` bytes from the start of the probed file (:meth:`probe` first), for a
        caller that must look at the content, not its label: a server may call any file
        ``text/html``."""
        probe = self.probe_result if self.probe_result is not None else self.probe()
        asked = {"Range": f"bytes=0-{count - 1}"}
        resp = self._client.request(probe.final_url, asked, self._policy)
        try:
            return self._client.read(resp, count)
        finally:
            self._client.release(resp)

    def run(self) -> DownloadResult:
        """Download (or resume) to the end; returns the result or raises DownloadError."""
        ended = threading.Event()
        threading.Thread(
            target=self._watch, args=(ended,), name="download-watchdog", daemon=True
        ).start()
        try:
            return self._run()
        finally:
            ended.set()

    def _watch(self, ended: threading.Event) -> None:
        """Enforce the overall deadline and the minimum speed while :meth:`run` lasts."""
        deadlines = self.options.deadlines
        started = time.monotonic()
        floor = SlowDownload(deadlines.min_speed, deadlines.window)
        while not ended.wait(WATCH_INTERVAL):
            now = time.monotonic()
            reason = over_deadline(now - started, deadlines.total) or floor.feed(
                now, self._control.moved()
            )
            if reason is not None:
                log.info("%s: %s", mask_url(self.url), reason)
                self._control.halt(DownloadError(reason))
                return

    def _run(self) -> DownloadResult:
        started = time.monotonic()
        restarts = 0
        while True:
            probe = self.probe_result if self.probe_result is not None else self.probe()
            if self._finished is not None:
                return self._already_there(probe, self._finished, started)
            self._check_limits(probe.size)
            if not probe.resumable and probe.single_reason:
                self._notice(Why.of(Reason.ONE_CONNECTION, probe.single_reason))
            assert self.part_path is not None and self.final_path is not None
            attempt = Attempt(
                self.url,
                self.options,
                self._control,
                self._client,
                self._policy,
                self._ranged,
                expected=self.expected,
                notice=self._notice,
                on_progress=self.on_progress,
            )
            try:
                fetched = attempt.run(probe, self.part_path, self.final_path)
            except FileChanged as exc:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise DownloadError(Reason.KEEPS_CHANGING) from None
                self._notice(exc.why)
                self.probe_result = None
                continue
            return DownloadResult(
                path=fetched.path,
                size=fetched.size,
                sha256=fetched.sha256,
                elapsed=time.monotonic() - started,
                resumed_from=fetched.resumed_from,
                notices=tuple(self._notices),
            )

    def _notice(self, why: Why) -> None:
        log.info("%s: %s", mask_url(self.url), why)  # the caller shows it (CLI line, status)
        self._notices.append(why)
        if self.on_notice:
            self.on_notice(why)

    # ------------------------------------------------------------------ naming and limits
    def _choose_paths(self, name: str, source: provenance.Source | None = None) -> Path:
        """Pick ``name`` or ``name (n)``: a ``.part`` + control file for this URL is ours, and so
        is a finished file of this very download (:mod:`~bot.downloads.provenance`)."""
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        self._finished = None
        for n in range(0, MAX_NAME_TRIES):
            candidate = name if n == 0 else naming.with_number(name, n)
            try:
                final = naming.inside(self.dest_dir, candidate)
            except ValueError:
                raise DownloadRefused(Reason.NAME_ESCAPES) from None
            part = final.with_name(final.name + ".part")
            ctl = resume.control_path(part)
            if source is not None and provenance.holds(final, source):
                self._finished = final  # an earlier run of this command finished it
                break
            if ctl.is_file() and not ctl.is_symlink():
                state = resume.load(ctl)
                # Our own leftover (resumable or not), or a record too damaged to say whose it
                # is beside its .part: nothing can be resumed from it, so this run takes the name
                # over. A file of that name alone is someone else's (the engine writes the
                # record before the .part, and removes the .part first).
                if (state is None and _plain_file(part)) or (
                    state is not None and state.url == self.url
                ):
                    break
            if not any(os.path.lexists(p) for p in (final, part, ctl)):
                break  # a link, even one that leads nowhere, is a name taken
        else:
            raise DownloadError(Reason.TOO_MANY_NAMES, name=name)
        self.final_path, self.part_path = final, part
        return final

    def _already_there(self, probe: ProbeResult, final: Path, started: float) -> DownloadResult:
        """The result for a file an earlier run finished: its leftover record (a kill between
        the rename and the record's removal) goes, the checksum asked for is checked, nothing
        is fetched."""
        assert self.part_path is not None
        size = final.stat().st_size  # the probed size, or the stream's when none was said
        ctl = resume.control_path(self.part_path)
        state = resume.load(ctl) if ctl.exists() else None
        if state is not None and state.url == self.url and not self.part_path.exists():
            ctl.unlink(missing_ok=True)
        algs = ([self.expected[0]] if self.expected else []) + (
            ["sha256"] if self.options.compute_sha256 else []
        )
        hasher = PrefixHasher(final, lambda: size, algs)
        try:
            digests = hasher.finish(size)
        finally:
            hasher.abandon()
        if self.expected and digests[self.expected[0]] != self.expected[1]:
            alg, want = self.expected
            raise DownloadError(
                Reason.CHECKSUM_MISMATCH,
                alg=alg,
                expected=want[:12],
                actual=digests[alg][:12],
            )
        return DownloadResult(
            path=final,
            size=size,
            sha256=digests.get("sha256", ""),
            elapsed=time.monotonic() - started,
            notices=tuple(self._notices),
            already_there=True,
        )

    def _check_limits(self, size: int | None) -> None:
        max_bytes = self.options.max_bytes
        if size is None:
            return
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(Reason.TOO_LARGE, size_bytes=size, limit_bytes=max_bytes)
        on_disk = 0
        if self.part_path is not None and self.part_path.exists():
            state = resume.load(resume.control_path(self.part_path))
            on_disk = state.done_bytes if state and state.size == size else 0
        need = size - on_disk
        free = shutil.disk_usage(self.dest_dir).free - self.options.disk_reserve
        if need > free:
            raise DownloadRefused(Reason.DISK_SPACE, need_bytes=need, free_bytes=max(0, free))


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def settle_process() -> None:
    """Call once, before downloading, in a process that exists to download (CLI, bot's child).

    Everything imported by then lives as long as the process. Freezing it keeps Python's cyclic
    garbage collector from walking those objects again and again: a collection holds the
    interpreter lock and so pauses every worker (1 GiB over loopback: 1.7 s → 1.4 s median).
    """
    gc.freeze()
