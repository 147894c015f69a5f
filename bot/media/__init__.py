"""Media pages: ``/download`` of a web page that plays a video fetches the video (or its audio).

yt-dlp reads the page (:mod:`bot.media.extract`), every one of its requests pinned by Errand's
private-network guard (:mod:`bot.media.guarded_http`); Errand then fetches what it chose itself —
progressive files with the download engine, HLS and DASH fragments several at a time
(:mod:`bot.media.fragments`) — and ffmpeg joins the pieces without re-encoding, reading only the
local files Errand wrote (:mod:`bot.media.ffmpeg`). All of it runs in the download child process
(:mod:`bot.media.isolated`). Like :mod:`bot.downloads`, nothing here knows of Telegram.
"""
