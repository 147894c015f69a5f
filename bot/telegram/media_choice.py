"""The choice a media page offers — best video, a smaller one, audio only — as one message with buttons.

The service asks (event ``choose`` with a :class:`bot.media.survey.Survey`); this module words the
question and handles the buttons. Without a press, the service takes the default after
``MEDIA_CHOICE_WAIT`` seconds (60), so a download never waits on someone who walked away.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.ext import ContextTypes

from bot.downloads.jobs import DownloadJob
from bot.downloads.service import Refused
from bot.humanize import human_size
from bot.media.plan import MediaMode
from bot.media.survey import Choice, Survey
from bot.telegram import download_status as render
from bot.telegram.permissions import can_manage
from bot.telegram.services import services_of

PATTERN = r"^dl:media:\d+:(best|small|audio|all)$"
ALL = "all"  # every item of a playlist page (up to MEDIA_PLAYLIST_MAX), the best video of each
LABELS = {MediaMode.BEST: "Best video", MediaMode.SMALL: "Smaller video", MediaMode.AUDIO: "Audio only"}
SAID = {MediaMode.BEST: "the best video", MediaMode.SMALL: "the smaller video", MediaMode.AUDIO: "the audio only"}


def _label(choice: Choice, default: MediaMode) -> str:
    words = [LABELS[choice.mode]]
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
    lines = [f"🎬 {survey.title}", f"Found a video. Which one? Without an answer: {SAID[survey.default]} "
                                   f"in {wait:g} s."]
    if survey.item_count > 1:
        lines.append(f"The page lists {survey.item_count} items: the first, or all of them (button below).")
    return "\n".join(lines)


def markup(job_id: int, survey: Survey, playlist_max: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(_label(c, survey.default), callback_data=f"dl:media:{job_id}:{c.mode.value}")]
            for c in survey.choices]
    if survey.item_count > 1:
        rows.append([InlineKeyboardButton(f"All {min(survey.item_count, playlist_max)} items (best video each)",
                                          callback_data=f"dl:media:{job_id}:{ALL}")])
    rows.append([InlineKeyboardButton("Cancel", callback_data=f"dl:cancel:{job_id}")])
    return InlineKeyboardMarkup(rows)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press on one of the choice buttons: only the requester (or an admin) decides."""
    query = update.callback_query
    _, _, job_text, mode_text = query.data.split(":")
    job_id = int(job_text)
    every = mode_text == ALL
    mode = MediaMode.BEST if every else MediaMode(mode_text)
    services = services_of(context)
    service = services.extras["downloads"]
    job = await asyncio.to_thread(service.get, job_id)
    if job is None or job.chat_id != update.effective_chat.id:
        await query.answer(f"There is no download d{job_id} in this chat.")
        return
    if not await can_manage(update, context, job.user_id):
        await query.answer(f"Only {job.user_name or 'the person who started it'} or an admin can choose.")
        return
    survey = service.waiting_choice(job_id)
    if not await asyncio.to_thread(service.choose, job_id, mode):
        await query.answer(f"d{job_id} is no longer waiting for a choice.")
        return
    if not every or survey is None:
        await query.answer(f"Fetching {SAID[mode]}.")
        return
    count = min(survey.item_count, services.settings.media_playlist_max)
    await query.answer(f"Fetching {count} items.")
    for item in range(2, count + 1):  # the first is this job; each other item is a job of its own
        status = await context.bot.send_message(
            job.chat_id, f"{render.checking(job.url)} (item {item} of {count})", message_thread_id=job.thread_id,
            reply_parameters=ReplyParameters(job.request_message_id, allow_sending_without_reply=True)
            if job.request_message_id else None)
        try:
            await asyncio.to_thread(
                service.submit, chat_id=job.chat_id, user_id=job.user_id, user_name=job.user_name, url=job.url,
                name=None, request_message_id=job.request_message_id, status_message_id=status.message_id,
                thread_id=job.thread_id, asked=mode.value, item=item)
        except Refused as exc:
            await status.edit_text(f"❌ Not started: {exc}.")
            return
