"""``/stats`` for the bot's admins: uptime, work in progress, disk, version."""

from __future__ import annotations

import asyncio
import shutil
import time

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import __version__
from bot.humanize import MiB, human_duration, human_size
from bot.i18n import _
from bot.telegram.permissions import is_bot_admin
from bot.telegram.services import Services, services_of
from bot.telegram.update_parts import message_of, user_of


def _media_line() -> str:
    """yt-dlp's version, so an admin sees when it is due for ``pip install -U yt-dlp``."""
    from bot.media import ffmpeg
    from bot.media.extract import version

    if ffmpeg.available():
        return f"yt-dlp {version()}"
    return _("yt-dlp {version} (ffmpeg missing: media pages refused)").format(version=version())


def _report(services: Services) -> str:
    settings = services.settings
    disk = shutil.disk_usage(settings.downloads_path)
    lines = [
        f"Errand {__version__}",
        _("Up {duration}").format(duration=human_duration(time.time() - services.started_at)),
        *services.stats_lines(),
        _("Disk free: {free} of {total} (reserve {reserve})").format(
            free=human_size(disk.free),
            total=human_size(disk.total),
            reserve=human_size(settings.disk_reserve_mb * MiB),
        ),
        _media_line(),
    ]
    return "\n".join(lines)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    message = message_of(update)
    if not is_bot_admin(services.settings, user_of(update).id):
        await message.reply_text(_("/stats is for the bot's admins (ADMIN_USERS)."))
        return
    await message.reply_text(await asyncio.to_thread(_report, services))


def register(app: Application, services: Services) -> None:
    app.add_handler(CommandHandler("stats", stats))
