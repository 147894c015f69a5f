"""The choice a media page offers — best video, a smaller one, audio only — as one message with
buttons.

The service asks (event ``choose`` with a :class:`bot.media.survey.Survey`); this module words the
question and handles the buttons. Without a press, the service takes the default after
``MEDIA_CHOICE_WAIT`` seconds (60), so a download never waits on someone who walked away.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.ext import ContextTypes

from bot.downloads.errors import Refused
from bot.downloads.jobs import DownloadJob
from bot.humanize import human_size
from bot.i18n import N_, _
from bot.media.plan import MediaMode
from bot.media.survey import Choice, Survey
from bot.telegram import download_status as render
from bot.telegram.download_reasons import explain_error
from bot.telegram.permissions import can_manage
from bot.telegram.services import required, services_of
from bot.telegram.update_parts import chat_of, query_of

#: ``all`` carries how many items (``dl:media:7:all:3``): the front that takes the press may not be
#: the worker that read the page (PostgreSQL mode). Older buttons end at ``all``.
PATTERN = r"^dl:media:\d+:(best|small|audio|all(:\d+)?)$"
ALL = "all"  # every item of a playlist page (up to MEDIA_PLAYLIST_MAX), the best video of each
LABELS = {
    MediaMode.BEST: N_("Best video"),
    MediaMode.SMALL: N_("Smaller video"),
    MediaMode.AUDIO: N_("Audio only"),
}
SAID = {
    MediaMode.BEST: N_("the best video"),
    MediaMode.SMALL: N_("the smaller video"),
    MediaMode.AUDIO: N_("the audio only"),
}


def _label(choice: Choice, default: MediaMode) -> str:
    words = [_(LABELS[choice.mode])]
    details = []
    if choice.height:
        details.append(f"{choice.height}p")
    if choice.size:
        details.append(f"~{human_size(choice.size)}")
    if details:
        words.append(f"({', '.join(details)})")
    if choice.mode is default:
        words.append("✓")
    return " ".join(words)


def text(job: DownloadJob, survey: Survey, wait: float) -> str:
    lines = [
        f"🎬 {survey.title}",
        _("Found a video. Which one? Without an answer: {default} in {wait} s.").format(
            default=_(SAID[survey.default]), wait=f"{wait:g}"
        ),
    ]
    if survey.item_count > 1:
        lines.append(
            _("The page lists {count} items: the first, or all of them (button below).").format(
                count=survey.item_count
            )
        )
    return "\n".join(lines)


def markup(job_id: int, survey: Survey, playlist_max: int) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                _label(c, survey.default), callback_data=f"dl:media:{job_id}:{c.mode.value}"
            )
        ]
        for c in survey.choices
    ]
    if survey.item_count > 1:
        count = min(survey.item_count, playlist_max)
        rows.append(
            [
                InlineKeyboardButton(
                    _("All {count} items (best video each)").format(count=count),
                    callback_data=f"dl:media:{job_id}:{ALL}:{count}",
                )
            ]
        )
    rows.append([InlineKeyboardButton(_("Cancel"), callback_data=f"dl:cancel:{job_id}")])
    return InlineKeyboardMarkup(rows)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press on one of the choice buttons: only the requester (or an admin) decides."""
    query = query_of(update)
    job_text, mode_text, *counted = (query.data or "").split(":")[2:]
    job_id = int(job_text)
    every = mode_text == ALL
    mode = MediaMode.BEST if every else MediaMode(mode_text)
    services = services_of(context)
    service = required(services.downloads)
    job = await asyncio.to_thread(service.get, job_id)
    if job is None or job.chat_id != chat_of(update).id:
        await query.answer(_("There is no download d{id} in this chat.").format(id=job_id))
        return
    if not await can_manage(update, context, job.user_id):
        await query.answer(
            _("Only {name} or an admin can choose.").format(
                name=job.user_name or _("the person who started it")
            )
        )
        return
    survey = service.waiting_choice(job_id)
    if not await asyncio.to_thread(service.choose, job_id, mode):
        await query.answer(_("d{id} is no longer waiting for a choice.").format(id=job_id))
        return
    listed = survey.item_count if survey is not None else int(counted[0]) if counted else None
    if not every or listed is None:
        await query.answer(_("Fetching {what}.").format(what=_(SAID[mode])))
        return
    count = min(listed, services.settings.media_playlist_max)
    await query.answer(_("Fetching {count} items.").format(count=count))
    for item in range(2, count + 1):  # the first is this job; each other item is a job of its own
        status = await context.bot.send_message(
            job.chat_id,
            _("{checking} (item {item} of {count})").format(
                checking=render.checking(job.url), item=item, count=count
            ),
            message_thread_id=job.thread_id,
            reply_parameters=ReplyParameters(
                job.request_message_id, allow_sending_without_reply=True
            )
            if job.request_message_id
            else None,
        )
        try:
            await asyncio.to_thread(
                service.submit,
                chat_id=job.chat_id,
                user_id=job.user_id,
                user_name=job.user_name,
                url=job.url,
                name=None,
                request_message_id=job.request_message_id,
                status_message_id=status.message_id,
                thread_id=job.thread_id,
                asked=mode.value,
                item=item,
            )
        except Refused as exc:
            await status.edit_text(_("❌ Not started: {reason}.").format(reason=explain_error(exc)))
            return
