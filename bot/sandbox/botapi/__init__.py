"""The Bot API emulator's parts, one area each; :mod:`bot.sandbox.emulator` puts them together.

- :mod:`.objects`: what the API exchanges (messages, calls, faults, errors) and Telegram's
  constants;
- :mod:`.state`: the chats, messages and updates behind one condition variable, the update queue
  and webhook delivery, and the dispatch of a method to its handler;
- :mod:`.observing`: what tests read and wait for;
- :mod:`.users` and :mod:`.groups`: acting as users, and groups changing under the bot;
- :mod:`.messages`, :mod:`.files`, :mod:`.updates`: the Bot API methods, by area;
- :mod:`.webhook`: ``setWebhook`` and delivering updates to it as Telegram does;
- :mod:`.server`: the HTTP server's request handler.
"""
