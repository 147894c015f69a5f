"""One media download from a page: extract, fetch each chosen stream, join, describe the result.

:class:`MediaDownloader` has the engine's face (``run`` / ``cancel``, progress reports, a
:class:`~bot.downloads.engine.DownloadResult`), so the service runs it in the download child
process exactly like a direct download (:mod:`bot.media.isolated`). Intermediate files live in
``.media-work/`` inside the job's folder, named by stream, so a restarted job finds the whole
fragments and ``.part`` files of the run before and goes on from there.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bot.downloads import naming
from bot.downloads.engine import Downloader, DownloadOptions, DownloadResult
from bot.downloads.errors import DownloadCancelled, DownloadError, TooLarge
from bot.downloads.progress import Progress, ProgressMeter
from bot.downloads.reasons import Reason, Why
from bot.downloads.transport import make_session
from bot.humanize import MiB
from bot.media import ffmpeg, hls, record
from bot.media.extract import extract
from bot.media.fragments import ByteLedger, FetchOptions, FragmentFetcher, join
from bot.media.plan import MediaInfo, MediaPlan, MediaRequest, Protocol, Stream

WORK_DIR = ".media-work"
THUMB_NAME = ".thumb.jpg"


class MediaDownloader:
    """Fetch the media of the page at ``url`` into ``dest_dir``; the request is read from its
    record."""

    def __init__(
        self,
        url: str,
        dest_dir: Path,
        options: DownloadOptions | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        name: str | None = None,
        request: MediaRequest | None = None,
        on_notice: Callable[[Why], None] | None = None,
        on_retry: Callable[..., None] | None = None,
    ) -> None:
        self.url = url
        self.dest_dir = Path(dest_dir)
        self.options = options or DownloadOptions()
        self.on_progress = on_progress
        self.on_notice = on_notice  # the engine's callbacks, taken so the child can build either
        self.on_retry = on_retry
        self.probe_result = None  # the engine's; a media run has no single probe (the CLI asks)
        self.request = request or record.load_request(self.dest_dir) or MediaRequest()
        self._stop = threading.Event()
        self._keep_partial = False
        self._engine: Downloader | None = None
        self._notices: list[Why] = []

    def cancel(self, keep_partial: bool = False) -> None:
        self._keep_partial = keep_partial
        self._stop.set()
        engine = self._engine
        if engine is not None:
            engine.cancel(keep_partial=True)  # the folder goes as a whole when not kept

    def run(self) -> DownloadResult:
        started = time.monotonic()
        if not ffmpeg.available():
            raise DownloadError(Reason.FFMPEG_MISSING)
        plan = extract(
            self.url, self.request, self.options.allow_networks, cancelled=self._stop.is_set
        )
        if plan.playlist_count > 1:
            self._notices.append(
                Why.of(
                    Reason.MEDIA_PLAYLIST_ITEM, item=self.request.item, count=plan.playlist_count
                )
            )
            if self.on_notice is not None:
                self.on_notice(self._notices[-1])
        work = self.dest_dir / WORK_DIR
        work.mkdir(parents=True, exist_ok=True)
        sizes = [s.size for s in plan.streams if s.size]
        total = (
            sum(sizes) if len(sizes) == len(plan.streams) else None
        )  # known only if every one is
        meter = ProgressMeter(self.on_progress, total)
        ledger = ByteLedger(
            self.options.max_bytes, on_change=lambda done: meter.tick(done, self._connections())
        )
        inputs = [
            (self._fetch(stream, work, ledger), stream.has_video, stream.has_audio)
            for stream in plan.streams
        ]
        self._check_stop()
        path, info = self._finish(plan, inputs)
        meter.tick(ledger.done, 0, force=True)
        shutil.rmtree(work, ignore_errors=True)
        sha = _sha256(path) if self.options.compute_sha256 else ""
        return DownloadResult(
            path=path,
            size=path.stat().st_size,
            sha256=sha,
            elapsed=time.monotonic() - started,
            notices=tuple(self._notices),
        )

    # ------------------------------------------------------------------ fetching
    def _connections(self) -> int:
        return self.options.connections

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise DownloadCancelled(Reason.CANCELLED)

    def _stream_key(self, stream: Stream) -> str:
        """A folder name for ``stream``: the same stream of the same page maps to the same files."""
        digest = hashlib.sha256(f"{stream.format_id}\n{stream.url}".encode()).hexdigest()[:16]
        return f"{naming.sanitize(stream.format_id)[:32]}-{digest}"

    def _fetch(self, stream: Stream, work: Path, ledger: ByteLedger) -> Path:
        self._check_stop()
        key = self._stream_key(stream)
        joined = work / f"{key}.{naming.sanitize(stream.ext) or 'bin'}"
        if joined.is_file():  # joined before a restart: nothing left to fetch for this stream
            ledger.add(joined.stat().st_size)
            return joined
        if stream.protocol is Protocol.FILE:
            return self._fetch_file(stream, work, joined, ledger)
        session = make_session(self.options.allow_networks, self.options.connections)
        try:
            fragments = stream.fragments or hls.read(
                session, stream.url, (self.options.connect_timeout, self.options.read_timeout)
            )
            fetcher = FragmentFetcher(
                session,
                fragments,
                work / key,
                ledger,
                FetchOptions(
                    concurrency=self.options.connections,
                    connect_timeout=self.options.connect_timeout,
                    read_timeout=self.options.read_timeout,
                    max_retries=self.options.max_retries,
                    backoff=self.options.backoff,
                ),
                self._stop,
            )
            ledger.add(fetcher.already_done())
            parts = fetcher.run()
        finally:
            session.close()
        join(parts, joined)
        shutil.rmtree(work / key, ignore_errors=True)
        return joined

    def _fetch_file(self, stream: Stream, work: Path, joined: Path, ledger: ByteLedger) -> Path:
        """A progressive file: Errand's own engine (several ranges, resume, the guard)."""
        remaining = (
            None if self.options.max_bytes is None else max(1, self.options.max_bytes - ledger.done)
        )
        base = ledger.done
        options = replace(self.options, max_bytes=remaining, compute_sha256=False, checksum=None)

        def progress(p: Progress) -> None:
            if ledger.on_change is not None:
                ledger.on_change(base + p.done)

        engine = Downloader(stream.url, work, options, on_progress=progress, name=joined.name)
        self._engine = engine
        if self._stop.is_set():
            engine.cancel(keep_partial=True)
        try:
            result = engine.run()
        except TooLarge:
            raise TooLarge(
                Reason.MEDIA_TOO_LARGE, limit_bytes=self.options.max_bytes or 0
            ) from None
        finally:
            self._engine = None
        ledger.add(result.size)
        if result.path != joined:
            result.path.replace(joined)
        return joined

    # ------------------------------------------------------------------ joining
    def _finish(
        self, plan: MediaPlan, inputs: list[tuple[Path, bool, bool]]
    ) -> tuple[Path, MediaInfo]:
        first = ffmpeg.probe(inputs[0][0])
        audio_only = (
            plan.audio_only
            or self.request.mode.value == "audio"
            or not any(ffmpeg.probe(path).video_codec for path, _, _ in inputs)
        )
        if audio_only:
            audio_codec = next(
                (
                    p.audio_codec
                    for p in (ffmpeg.probe(path) for path, _, _ in inputs)
                    if p.audio_codec
                ),
                first.audio_codec,
            )
            if audio_codec is None:
                raise DownloadError(Reason.MEDIA_NO_AUDIO)
            extensions = [ffmpeg.audio_container(audio_codec), "mka"]
        else:
            extensions = ["mp4", "mkv"]
        base = naming.sanitize(plan.title)[:120] or "media"
        failure: DownloadError | None = None
        for ext in extensions:
            out = self._final_path(f"{base}.{ext}")
            tmp = out.with_name(f".{out.stem}.joining{out.suffix}")
            try:
                ffmpeg.merge(inputs, tmp, audio_only, self._stop)
            except DownloadCancelled:
                tmp.unlink(missing_ok=True)
                raise
            except DownloadError as exc:
                tmp.unlink(missing_ok=True)
                failure = exc
                continue
            tmp.replace(out)
            break
        else:
            raise failure or DownloadError(Reason.FFMPEG_JOIN_FAILED)
        facts = ffmpeg.probe(out)
        thumb = None
        if not audio_only and ffmpeg.thumbnail(
            out, self.dest_dir / THUMB_NAME, facts.duration, self._stop
        ):
            thumb = THUMB_NAME
        info = MediaInfo(
            kind="audio" if audio_only else "video",
            duration=facts.duration,
            width=facts.width,
            height=facts.height,
            title=plan.title,
            performer=plan.performer,
            thumbnail=thumb,
            notices=tuple(why.dump() for why in self._notices),
        )
        record.save_info(self.dest_dir, info)
        return out, info

    def _final_path(self, name: str) -> Path:
        try:
            return naming.inside(self.dest_dir, naming.sanitize(name))
        except ValueError:
            raise DownloadError(Reason.NAME_ESCAPES) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()
