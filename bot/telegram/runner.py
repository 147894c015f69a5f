"""``errandbot run``: start the bot by long polling, or as a webhook server when WEBHOOK_URL is set.

python-telegram-bot's ``run_polling``/``run_webhook`` install handlers for SIGINT and SIGTERM and
shut down in order (stop fetching updates, finish handlers, run ``post_stop``), which is what
keeps a SIGTERM stop under the 10 s the service manager allows.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from telegram import Update

from bot.config import Settings, SettingsError, prepare_dirs
from bot.logsetup import setup_logging

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits for news


def run_bot(settings: Settings) -> int:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    setup_logging(settings.log_level, secrets=(settings.token, secret))
    if not settings.token:
        raise SettingsError("BOT_TOKEN: not set; get a token from @BotFather and put it in .env")
    prepare_dirs(settings)

    from bot.telegram.app import build_application

    app = build_application(settings)
    log.info("Errand starting against %s", settings.telegram_api_url)
    if settings.webhook_url:
        host, port = settings.listen_host_port
        path = urlsplit(settings.webhook_url).path.lstrip("/")
        app.run_webhook(
            listen=host,
            port=port,
            url_path=path,
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=POLL_TIMEOUT)
    log.info("Errand stopped")
    return 0
