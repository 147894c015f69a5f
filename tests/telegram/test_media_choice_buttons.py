"""The "All N items" button carries N, so that a front that never read the page (PostgreSQL mode:
the page was read by a worker) can start the other items' jobs. (End to end, with a front and a
worker: test_workers.py's media test for one item; the playlist flow is test_media_pages.py's.)"""

from __future__ import annotations

import re

from bot.media.plan import MediaMode
from bot.media.survey import Choice, Survey
from bot.telegram import media_choice


def test_all_button_carries_the_capped_count_and_matches_the_handler() -> None:
    survey = Survey("list", (Choice(MediaMode.BEST), Choice(MediaMode.AUDIO)), item_count=7)
    rows = media_choice.markup(12, survey, playlist_max=5).inline_keyboard
    data = [button.callback_data for row in rows for button in row]
    assert data == ["dl:media:12:best", "dl:media:12:audio", "dl:media:12:all:5", "dl:cancel:12"]
    handled = [d for d in data if isinstance(d, str) and re.match(media_choice.PATTERN, d)]
    assert handled == data[:3]
    assert re.match(media_choice.PATTERN, "dl:media:12:all")  # a button sent before this release
