"""``/download``, ``/downloads``, bare links in private chats, and the Cancel button.

Thin: parse the message into URLs (and an optional name), answer at once with the message that
becomes the live status, and hand the rest to :class:`~bot.downloads.service.DownloadService`.
What the status says and when it changes is :mod:`bot.telegram.download_notifier`'s business.
"""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import Message, MessageEntity, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.downloads.errors import Refused
from bot.downloads.jobs import JobState
from bot.downloads.netguard import url_problem
from bot.downloads.service import DownloadService
from bot.humanize import human_size
from bot.i18n import N_, _
from bot.telegram import download_status as render
from bot.telegram import media_choice
from bot.telegram.callback_data import parse_number
from bot.telegram.download_notifier import DownloadNotifier
from bot.telegram.download_reasons import explain, explain_error
from bot.telegram.handlers.cancel import add_canceller
from bot.telegram.permissions import can_manage, is_bot_admin, sender_id
from bot.telegram.services import Services, required, services_of
from bot.telegram.texts import display_name
from bot.telegram.topics import topic_first, topic_of
from bot.telegram.update_parts import chat_of, message_of, query_of, user_of

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000  # characters of a /download message worth reading
MAX_URLS = 5  # downloads started by one message
HOUSEKEEPING_EVERY = 3600.0
USAGE = N_(
    "Usage: /download URL [name] — several links in one message start several downloads.\n"
    "A page with a video: /download URL (the video), URL as audio, URL as small, "
    "URL as file (the page).\n"
    "Example: /download https://example.com/file.iso"
)
# "/download URL as audio": what to take from a web page (see bot.media.pages), not a file name.
ASKED = {"as file": "file", "as audio": "audio", "as small": "small", "as video": "best"}
_LINKISH = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def _service(context: ContextTypes.DEFAULT_TYPE) -> DownloadService:
    return required(services_of(context).downloads)


def _notifier(context: ContextTypes.DEFAULT_TYPE) -> DownloadNotifier:
    return required(services_of(context).download_notifier)


def _urls_in(message: Message | None) -> list[str]:
    if message is None:
        return []
    found = message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK])
    urls = [
        entity.url if entity.type == MessageEntity.TEXT_LINK else text
        for entity, text in found.items()
    ]
    return list(dict.fromkeys(url for url in urls if url))


def parse_request(args: list[str]) -> tuple[list[str], str | None, str | None]:
    """Split ``/download`` arguments into (urls, name, problem).

    Anything shaped like ``scheme:…`` is a link (so ``ftp:``/``javascript:`` are caught and named);
    with exactly one link, the words after it are the file name to save under.
    """
    links = [a for a in args if _LINKISH.match(a)]
    if not links:
        return [], None, _("That doesn't look like a link.")
    for link in links:
        problem = url_problem(link)
        if problem:
            return [], None, explain(problem)
    if len(links) > MAX_URLS:
        return (
            [],
            None,
            _("That is {count} links; one message can start at most {limit}.").format(
                count=len(links), limit=MAX_URLS
            ),
        )
    rest = [a for a in args if a not in links]
    name = " ".join(rest).strip() or None
    if name and len(links) > 1:
        return [], None, _("A file name can only follow a single link.")
    return links, name, None


async def download_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = message_of(update)
    text = message.text or ""
    if len(text) > MAX_MESSAGE:
        await message.reply_text(
            _("That message is too long ({count} characters).").format(count=len(text))
            + "\n"
            + _(USAGE)
        )
        return
    args = list(context.args or [])
    if not args and message.reply_to_message:
        args = _urls_in(message.reply_to_message)
        if not args:
            await message.reply_text(_("The message you replied to has no link.") + "\n" + _(USAGE))
            return
    if not args:
        await message.reply_text(_(USAGE))
        return
    urls, name, problem = parse_request(args)
    if problem:
        await message.reply_text(f"{problem}\n{_(USAGE)}")
        return
    asked = ASKED.get((name or "").lower())  # "/download URL as audio": not a file name
    for number, url in enumerate(urls, 1):
        # The update counts as handled with its last job stored (a crash before that redoes it).
        await start_download(
            update, context, url, None if asked else name, last=number == len(urls), asked=asked
        )


async def bare_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat, a message that is just a link starts a download."""
    message = message_of(update)
    urls, _name, problem = parse_request([(message.text or "").strip()])
    if problem:
        await message.reply_text(f"{problem}\n{_(USAGE)}")
        return
    await start_download(update, context, urls[0], None)


async def start_download(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    url: str,
    name: str | None,
    *,
    last: bool = True,
    message: Message | None = None,
    asked: str | None = None,
) -> None:
    """Start one download asked for by ``message`` (default: the update's own message);
    ``asked``: what to take from a web page (see :data:`ASKED`)."""
    message = message or message_of(update)
    service = _service(context)
    status = await message.reply_text(render.checking(url), do_quote=True)  # which link is which
    try:
        job = await asyncio.to_thread(
            service.submit,
            chat_id=message.chat_id,
            user_id=sender_id(update),
            user_name=display_name(update.effective_sender),
            url=url,
            name=name,
            request_message_id=message.message_id,
            status_message_id=status.message_id,
            thread_id=topic_of(message),
            request_id=update.update_id if last else None,
            asked=asked,
        )
    except Refused as exc:
        await status.edit_text(_("❌ Not started: {reason}.").format(reason=explain_error(exc)))
        return
    log.info("download d%s requested by %s in chat %s", job.id, sender_id(update), message.chat_id)


async def link_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A "⬇️ Download" button under a plain message with links: start the link it names."""
    query = query_of(update)
    index = parse_number((query.data or "").rsplit(":", 1)[-1])
    original = query.message.reply_to_message if isinstance(query.message, Message) else None
    urls = _urls_in(original)
    if index is None or index >= len(urls) or update.effective_chat is None:
        log.warning(
            "download-link button with data %r that does not resolve; answered",
            (query.data or "")[:80],
        )
        await query.answer(_("That button no longer works; send /download URL instead."))
        return
    urls_ok, _name, problem = parse_request([urls[index]])
    if problem:
        await query.answer(problem[:190], show_alert=True)
        return
    await query.answer(_("Starting…"))
    await start_download(update, context, urls_ok[0], None, message=original)


async def list_downloads(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    service = _service(context)
    user_id = sender_id(update)
    chat = chat_of(update)
    message = message_of(update)
    # What was fetched in one chat is nobody's business in another: a group sees its own
    # downloads; a bot admin sees everyone's only in a private chat with the bot.
    admin = is_bot_admin(services_of(context).settings, user_id) and chat.type == chat.PRIVATE
    jobs = await asyncio.to_thread(
        service.list_jobs, None if admin else user_id, None if admin else chat.id
    )
    if not jobs:
        await message.reply_text(_("No downloads yet. Start one with /download URL."))
        return
    positions = service.positions()
    jobs = topic_first(jobs, topic_of(message))  # this topic's first
    notifier = _notifier(context)
    lines = [
        render.listing_line(
            job, positions.get(job.id), show_owner=admin, progress=notifier.latest_progress(job.id)
        )
        for job in jobs
    ]
    cancellable = next((job for job in jobs if not job.job_state.finished), None)
    if cancellable is not None:
        lines.append(
            _("Cancel one with /cancel ID, e.g. /cancel {ref}").format(ref=cancellable.ref)
        )
    await message.reply_text("\n".join(lines))


async def _cancel(update: Update, context: ContextTypes.DEFAULT_TYPE, job_id: int) -> str:
    """Cancel ``job_id`` if allowed; returns what to tell the person."""
    service = _service(context)
    job = await asyncio.to_thread(service.get, job_id)
    if job is None:
        return _("There is no download d{id}.").format(id=job_id)
    if job.chat_id != chat_of(update).id and not is_bot_admin(
        services_of(context).settings, user_of(update).id
    ):
        return _("There is no download d{id} in this chat.").format(id=job_id)
    if not await can_manage(update, context, job.user_id):
        return _("Only {name} or an admin can cancel d{id}.").format(
            name=job.user_name or _("the person who started it"), id=job_id
        )
    notifier = _notifier(context)
    by = display_name(update.effective_sender)
    if notifier.cancel_upload(job_id, by):
        return _("Cancelling the sending of d{id}.").format(id=job_id)
    relay = notifier.relay_upload_cancel
    if relay is not None and job.job_state is JobState.DONE and not job.delivered:
        await asyncio.to_thread(relay, job_id, by)  # a worker is sending it (PostgreSQL mode)
        return _("Cancelling the sending of d{id}.").format(id=job_id)
    if not await asyncio.to_thread(service.cancel, job_id, by):
        return _("d{id} has already finished.").format(id=job_id)
    return _("Cancelling d{id}.").format(id=job_id)


async def cancel_by_id(update: Update, context: ContextTypes.DEFAULT_TYPE, number: int) -> None:
    await message_of(update).reply_text(await _cancel(update, context, number))


async def cancel_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = query_of(update)
    job_id = parse_number((query.data or "").rsplit(":", 1)[-1])
    if job_id is None or update.effective_chat is None:
        log.warning(
            "download button with data %r that does not parse; answered", (query.data or "")[:80]
        )
        await query.answer(_("That button no longer works."))
        return
    await query.answer(await _cancel(update, context, job_id))


def register(app: Application, services: Services) -> None:
    notifier = DownloadNotifier(app, services)
    role = services.role
    shared = None
    if role.shared_database:  # PostgreSQL: the queue in the database (bot.work)
        from bot.work import sweeps
        from bot.work.downloads import SharedDownloads
        from bot.work.queue import WorkQueue

        work = WorkQueue(services.settings.db_url, services.settings.max_active_downloads)
        shared = SharedDownloads(work, services.sessions, services.settings)
    service = DownloadService(services.settings, services.sessions, notifier.listener, shared)
    services.downloads = service
    services.download_notifier = notifier
    add_canceller(services, "d", cancel_by_id)
    if shared is not None:
        shared.attach(service, notifier.delivering, notifier.cancel_upload)
        notifier.relay_upload_cancel = shared.relay_upload_cancel
        sweeps.register(work, services.sessions, shared.requeue, service.housekeeping)

    async def housekeeping(_context: ContextTypes.DEFAULT_TYPE) -> None:
        removed = await asyncio.to_thread(service.housekeeping)
        if removed:
            log.info("housekeeping removed %d expired download folders", removed)

    async def start(application: Application) -> None:
        notifier.loop = asyncio.get_running_loop()
        if shared is not None:
            await work.open()
            if role.runs_work:
                work.start_worker()  # housekeeping: once per deployment (bot.work.sweeps)
                shared.listen()
            return
        await asyncio.to_thread(service.start)
        if application.job_queue is not None:
            application.job_queue.run_repeating(
                housekeeping, HOUSEKEEPING_EVERY, first=60, name="download-housekeeping"
            )

    async def stop(application: Application) -> None:
        if shared is not None:
            work.stop_taking()
            await shared.stop_listening()
        await notifier.close()
        await asyncio.to_thread(service.stop)
        if shared is not None:
            await work.close()  # its tasks hand the paused downloads back to the queue

    def stat_lines() -> list[str]:
        numbers = service.stats()
        return [
            _("Downloads: {running} running, {queued} queued").format(
                running=numbers.running, queued=numbers.queued
            ),
            _("Downloaded today: {size}").format(size=human_size(numbers.bytes_today)),
        ]

    services.add_stats(stat_lines)
    services.add_startup(start)
    services.add_shutdown(stop)
    # New messages only: editing a /download message must not fetch the file a second time.
    app.add_handler(
        CommandHandler("download", download_command, filters=filters.UpdateType.MESSAGE)
    )
    app.add_handler(CommandHandler("downloads", list_downloads, filters=filters.UpdateType.MESSAGE))
    app.add_handler(CallbackQueryHandler(cancel_button, pattern=r"^dl:cancel:\d+$"))
    app.add_handler(CallbackQueryHandler(link_button, pattern=r"^dl:link:\d+$"))
    app.add_handler(CallbackQueryHandler(media_choice.button, pattern=media_choice.PATTERN))
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.ChatType.PRIVATE
            & filters.TEXT
            & ~filters.COMMAND
            & filters.Regex(r"^\s*https?://\S+\s*$"),
            bare_link,
        )
    )
