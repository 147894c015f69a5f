"""Fetch the fragments of an HLS or DASH stream several at a time, then join them in order.

Each fragment is written to ``work/NNNNNN.part`` and renamed to ``work/NNNNNN`` once whole, so a
stop at any moment (cancel, SIGTERM, ``kill -9``) leaves only whole fragments behind and the next
run fetches just the missing ones. Every request goes through Errand's pinned session (the
private-network guard on each fragment and each redirect); every byte that arrives is counted by
the :class:`ByteLedger` (quota and size limits are on bytes fetched, retries included). Failed
fragments are retried with exponential backoff; a stop wakes blocked reads by shutting their
sockets down, so a cancel takes effect within a fraction of a second.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from bot.downloads.errors import DownloadCancelled, DownloadError, DownloadRefused, TooLarge
from bot.downloads.reasons import Reason, Why
from bot.downloads.transport import abort_response
from bot.humanize import MiB
from bot.media.plan import Fragment

CHUNK = 64 * 1024
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class ByteLedger:
    """Bytes fetched so far for one media download, against its limit; thread-safe."""

    def __init__(
        self, limit: int | None, done: int = 0, on_change: Callable[[int], None] | None = None
    ) -> None:
        self.limit = limit
        self.done = done
        self.on_change = on_change
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            done = self.done
        if self.limit is not None and done > self.limit:
            raise TooLarge(Reason.MEDIA_TOO_LARGE, limit_bytes=self.limit)
        if self.on_change is not None:
            self.on_change(done)


@dataclass
class FetchOptions:
    concurrency: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_retries: int = 5
    backoff: float = 0.5
    backoff_max: float = 10.0


class FragmentFetcher:
    """Fetches ``fragments`` into ``work_dir`` with up to ``options.concurrency`` connections."""

    def __init__(
        self,
        session: requests.Session,
        fragments: Sequence[Fragment],
        work_dir: Path,
        ledger: ByteLedger,
        options: FetchOptions,
        stop: threading.Event,
    ) -> None:
        self.session = session
        self.fragments = list(fragments)
        self.work_dir = Path(work_dir)
        self.ledger = ledger
        self.options = options
        self.stop = stop
        self._failure: BaseException | None = None
        self._lock = threading.Lock()
        self._open: set[requests.Response] = set()

    def path(self, index: int) -> Path:
        return self.work_dir / f"{index:06d}"

    def already_done(self) -> int:
        """Bytes of whole fragments left by an earlier run (they are not fetched again)."""
        return sum(
            p.stat().st_size for i in range(len(self.fragments)) if (p := self.path(i)).is_file()
        )

    def run(self) -> list[Path]:
        """Fetch every missing fragment; return the fragment files in order, or raise why not."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        missing = [i for i in range(len(self.fragments)) if not self.path(i).is_file()]
        for i in missing:
            todo.put(i)
        workers = [
            threading.Thread(target=self._worker, args=(todo,), daemon=True, name=f"fragment-{n}")
            for n in range(max(1, min(self.options.concurrency, len(missing))))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.1)
                if self.stop.is_set():
                    self._abort_all()
        if self._failure is not None:
            raise self._failure
        if self.stop.is_set():
            raise DownloadCancelled(Reason.CANCELLED)
        return [self.path(i) for i in range(len(self.fragments))]

    def _worker(self, todo: queue.SimpleQueue[int]) -> None:
        while not self.stop.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                self._fetch(index)
            except BaseException as exc:  # noqa: BLE001 - the first failure stops every worker
                with self._lock:
                    if self._failure is None and not isinstance(exc, DownloadCancelled):
                        self._failure = exc
                self.stop.set()
                self._abort_all()
                return

    def _fetch(self, index: int) -> None:
        fragment = self.fragments[index]
        headers = {}
        if fragment.byte_range is not None:
            headers["Range"] = f"bytes={fragment.byte_range[0]}-{fragment.byte_range[1]}"
        attempt = 0
        while True:
            if self.stop.is_set():
                raise DownloadCancelled(Reason.CANCELLED)
            try:
                self._fetch_once(index, fragment, headers)
                return
            except _Retry as exc:
                attempt += 1
                if attempt > self.options.max_retries:
                    raise DownloadError(Reason.FRAGMENT_GAVE_UP, exc.why, tries=attempt) from None
                wait = min(self.options.backoff_max, self.options.backoff * 2 ** (attempt - 1))
                if self.stop.wait(wait):
                    raise DownloadCancelled(Reason.CANCELLED) from None

    def _fetch_once(self, index: int, fragment: Fragment, headers: dict[str, str]) -> None:
        part = self.path(index).with_suffix(".part")
        try:
            resp = self.session.get(
                fragment.url,
                headers=headers,
                stream=True,
                allow_redirects=True,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
            )
        except DownloadRefused:
            raise
        except requests.TooManyRedirects:
            raise DownloadError(Reason.FRAGMENT_REDIRECTS) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retry(_reason(exc)) from None
        with self._lock:
            self._open.add(resp)
        try:
            if resp.status_code in RETRY_STATUS:
                raise _Retry(
                    Why.of(Reason.HTTP_STATUS, status=resp.status_code, phrase=resp.reason or "")
                )
            if resp.status_code not in (200, 206):
                raise DownloadError(Reason.FRAGMENT_STATUS, status=resp.status_code)
            skip, keep = 0, None
            if (
                fragment.byte_range is not None and resp.status_code == 200
            ):  # range ignored: cut it out
                skip, keep = (
                    fragment.byte_range[0],
                    fragment.byte_range[1] - fragment.byte_range[0] + 1,
                )
            expected = resp.headers.get("Content-Length")
            received = 0
            with part.open("wb") as out:
                for chunk in resp.iter_content(CHUNK):
                    if self.stop.is_set():
                        raise DownloadCancelled(Reason.CANCELLED)
                    received += len(chunk)
                    self.ledger.add(len(chunk))
                    if skip or keep is not None:
                        start = min(len(chunk), skip)
                        skip -= start
                        piece = chunk[start:] if keep is None else chunk[start : start + keep]
                        if keep is not None:
                            keep -= len(piece)
                        out.write(piece)
                        if keep == 0:
                            break
                    else:
                        out.write(chunk)
            if expected and expected.isdigit() and keep is None and received != int(expected):
                raise _Retry(Why.of(Reason.SHORT_BODY))
            os.replace(part, self.path(index))
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            if self.stop.is_set():
                raise DownloadCancelled(Reason.CANCELLED) from None
            raise _Retry(_reason(exc)) from None
        finally:
            with self._lock:
                self._open.discard(resp)
            resp.close()

    def _abort_all(self) -> None:
        with self._lock:
            responses = list(self._open)
        for resp in responses:
            abort_response(resp)


class _Retry(Exception):
    """A fragment failure worth another try (connection, timeout, 5xx, 429, short body)."""

    def __init__(self, why: Why) -> None:
        super().__init__(why.english())
        self.why = why


def _reason(exc: BaseException) -> Why:
    return Why.of(
        Reason.TIMED_OUT if isinstance(exc, requests.Timeout) else Reason.CONNECTION_FAILED
    )


def join(parts: Sequence[Path], out: Path) -> None:
    """Concatenate ``parts`` into ``out`` (atomically: ``out`` appears only when whole)."""
    tmp = out.with_name(out.name + ".joining")
    with tmp.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, dst, MiB)
    os.replace(tmp, out)
