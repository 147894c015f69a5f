"""The one exception the reminder core raises for input it cannot use.

Its message is meant for the person who typed the command: it names the part that was not
understood (or the limit that was hit) and, where useful, shows examples. Handlers reply with
``str(error)`` as is.
"""

from __future__ import annotations


class ReminderInputError(ValueError):
    """Input that cannot become a timer or reminder; ``str()`` is a short user-facing answer."""
