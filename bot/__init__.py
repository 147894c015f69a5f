"""Errand: a self-hosted Telegram bot that runs errands for a chat."""

__version__ = "0.1.0"
