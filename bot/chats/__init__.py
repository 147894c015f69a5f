"""What happens to a chat as a whole: upgraded to a supergroup (new id), the bot removed or blocked.

Knows nothing of Telegram: :mod:`bot.chats.lifecycle` moves rows to a chat's new id, pauses what
belongs to a chat the bot can no longer post in, and resumes it; the chat layer
(:mod:`bot.telegram.chat_faults`, :mod:`bot.telegram.handlers.chats`) decides when.
"""
