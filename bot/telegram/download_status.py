"""What a download's status message says, as pure functions of the job and its progress.

Kept apart from the handlers so the wording can be read (and tested) in one place, and so the
progress ticker can compare rendered text and skip edits that would change nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.downloads.jobs import DownloadJob, JobState
from bot.humanize import human_duration, human_size, human_speed
from bot.i18n import _, ngettext
from bot.telegram.download_reasons import explain, explain_stored

if TYPE_CHECKING:
    from bot.telegram.upload import UploadProgress

BAR_WIDTH = 12


def display_url(url: str, limit: int = 60) -> str:
    """Host and path without credentials or query, shortened: what a person needs to recognise
    it."""
    parts = urlsplit(url)
    shown = f"{parts.hostname or ''}{parts.path}"
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def label(job: DownloadJob) -> str:
    return job.name or job.requested_name or display_url(job.url)


def head(job: DownloadJob) -> str:
    """``d7 · b.iso``: the id people type in /cancel, then the file, as timers show ``t3``."""
    return f"{job.ref} · {label(job)}"


def fate(job: DownloadJob, max_upload: int) -> str:
    """What happens at the end: sent to the chat, or kept on the server (and why)."""
    if job.size is not None and job.size > max_upload:
        return _("{size} is over the {limit} upload limit: it will be kept on the server.").format(
            size=human_size(job.size), limit=human_size(max_upload)
        )
    if job.size is None:
        return _("Size unknown: sent here if it is under the upload limit.")
    return _("Will be sent here.")


def bar(fraction: float) -> str:
    filled = max(0, min(BAR_WIDTH, round(fraction * BAR_WIDTH)))
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def retrying(retry) -> str:
    """``🔁 Retrying, 2 of 6: connection failed`` (``retry`` is a
    bot.downloads.progress.Retrying)."""
    return _("🔁 Retrying, {attempt} of {total}: {reason}").format(
        attempt=retry.attempt, total=retry.total, reason=explain(retry.reason)
    )


def checking(url: str, retry=None) -> str:
    text = _("🔎 Checking {url}…").format(url=display_url(url))
    return f"{text}\n{retrying(retry)}" if retry is not None else text


def queued(job: DownloadJob, position: int | None, max_upload: int, why: str | None = None) -> str:
    """``why`` replaces "#N in line" when the wait is not for a free slot (see the notifier)."""
    where = why or (
        _("⏳ Waiting: #{position} in line.").format(position=position)
        if position
        else _("⏳ Starting…")
    )
    return f"📄 {head(job)} — {human_size(job.size)}\n{where}\n{fate(job, max_upload)}"


def starting(job: DownloadJob, max_upload: int) -> str:
    return f"⬇️ {head(job)} — {human_size(job.size)}\n{_('Starting…')}\n{fate(job, max_upload)}"


def resumed(job: DownloadJob, position: int | None, max_upload: int) -> str:
    if job.resumed and job.size and job.done_bytes:
        percent = int(100 * job.done_bytes / job.size)
        note = _("▶️ Resumed after restart at {percent}%.").format(percent=percent)
    elif job.resumed:  # nothing kept: no ranges (one stream starts over), or no record
        note = _("▶️ Started again after the restart, from the beginning.")
    else:
        note = _("⏳ Still queued after a restart.")
    spot = " " + _("#{position} in line.").format(position=position) if position else ""
    return f"📄 {head(job)} — {human_size(job.size)}\n{note}{spot}\n{fate(job, max_upload)}"


def running(job: DownloadJob, progress, max_upload: int, retry=None, note=None) -> str:
    """``note`` is the latest notice (a bot.downloads.reasons.Why: the engine's or bot.media's)."""
    total = progress.total if progress.total is not None else job.size
    lines = [f"⬇️ {head(job)}"]
    if total:
        fraction = progress.done / total
        lines.append(
            f"{bar(fraction)} {int(fraction * 100)}%  "
            f"{human_size(progress.done)} / {human_size(total)}"
        )
    else:
        lines.append(_("{size} so far").format(size=human_size(progress.done)))
    eta = (
        " · " + _("ETA {duration}").format(duration=human_duration(progress.eta))
        if progress.eta is not None
        else ""
    )
    conns = progress.connections
    connections = ngettext("{count} connection", "{count} connections", conns).format(count=conns)
    lines.append(f"{human_speed(progress.speed)}{eta} · {connections}")
    if retry is not None:
        lines.append(retrying(retry))
    note = explain(note) if note else ""
    if note:
        lines.append(f"ℹ️ {note[0].upper()}{note[1:]}")
    lines.append(fate(job, max_upload))
    return "\n".join(lines)


def _summary(job: DownloadJob) -> str:
    took = job.elapsed or 0.0
    speed = f" ({human_speed(job.size / took)})" if job.size and took > 0 else ""
    duration = (
        _("in under a second")
        if took < 1
        else _("in {duration}").format(duration=human_duration(took))
    )
    return _("{size} {duration}{speed}").format(
        size=human_size(job.size), duration=duration, speed=speed
    )


def done(job: DownloadJob, sent: bool) -> str:
    where = _("sent below.") if sent else _("kept on the server.")
    return _("✅ {name} — {summary}, {where}").format(
        name=head(job), summary=_summary(job), where=where
    )


def caption(job: DownloadJob) -> str:
    return f"{label(job)}\n{_summary(job)}\nsha256 {job.sha256}"


def kept(
    job: DownloadJob, path: str | None, link: str | None, max_upload: int, retention_hours: float
) -> str:
    """Where an over-limit file is kept. ``path`` (the server's absolute path) is passed only when
    the reader is a bot admin; everyone else gets the link, if there is one."""
    lines = [
        (
            _("📦 {name} ({size}) is over the {limit} upload limit, so it is kept on the server:")
            if path or link
            else _(
                "📦 {name} ({size}) is over the {limit} upload limit, so it is kept on the server "
                "(ask the bot's admin for it)."
            )
        ).format(name=head(job), size=human_size(job.size), limit=human_size(max_upload)),
    ]
    if path:
        lines.append(path)
    if link:
        lines.append(link)
    lines.append(
        f"sha256 {job.sha256}\n"
        + _("It is removed after {duration}.").format(
            duration=human_duration(retention_hours * 3600)
        )
    )
    return "\n".join(lines)


def failed(job: DownloadJob, reason: str) -> str:
    return _("❌ {name}: {reason}").format(name=head(job), reason=reason)


def cancelled(job: DownloadJob, by: str) -> str:
    return _("🚫 {name}: cancelled by {by}.").format(name=head(job), by=by)


def listing_line(job: DownloadJob, position: int | None, show_owner: bool, progress=None) -> str:
    """One line of /downloads; ``progress`` (the newest report, the one the status message shows)
    wins over the row's periodically saved byte count."""
    state = job.job_state
    owner = f" ({job.user_name})" if show_owner else ""
    if state == JobState.RUNNING:
        done, total = (
            (progress.done, progress.total or job.size) if progress else (job.done_bytes, job.size)
        )
        percent = f" {int(100 * done / total)}%" if total else ""
        what = _("⬇️ running{percent}").format(percent=percent)
    elif state == JobState.QUEUED and job.name is None:
        what = _("🔎 checking")
    elif state == JobState.QUEUED:
        what = (
            _("⏳ #{position} in line").format(position=position) if position else _("⏳ waiting")
        )
    elif state == JobState.DONE:
        what = f"✅ {human_size(job.size)}"
    elif state == JobState.EXPIRED:
        what = _("🗑 expired")
    elif state == JobState.CANCELLED:
        what = _("🚫 cancelled")
    else:
        what = f"❌ {explain_stored(job.error)}"
    return f"{job.ref} {label(job)}{owner} — {what}"


def uploading(job: DownloadJob, progress: UploadProgress) -> str:
    """The status while the finished file goes to the chat: bytes sent and speed, or by path."""
    head = _("📤 Sending {name} — {size}").format(name=label(job), size=human_size(progress.total))
    if progress.by_path:
        return f"{head}\n" + _("The Bot API server is reading it from disk (local mode)…")
    if progress.finished:
        return f"{head}\n{bar(1.0)} 100%\n" + _("All sent; waiting for Telegram to confirm…")
    fraction = progress.sent / progress.total if progress.total else 0.0
    speed = progress.speed
    eta = (
        " · "
        + _("ETA {duration}").format(
            duration=human_duration((progress.total - progress.sent) / speed)
        )
        if speed
        else ""
    )
    return (
        f"{head}\n{bar(fraction)} {int(fraction * 100)}%  {human_size(progress.sent)} / "
        f"{human_size(progress.total)}\n{human_speed(speed)}{eta}"
    )


def upload_cancelled(job: DownloadJob, by: str) -> str:
    return _("🚫 {name}: sending cancelled by {by}; the file is removed from the server.").format(
        name=label(job), by=by
    )
