"""What other threads report (a process's output lines, a download's retries), kept to wait on.

    heard = Heard[str]()
    heard.follow(proc.stderr)                      # every line, as it comes
    heard.wait(lambda line: "refused" in line, 30, "a refusal")

:meth:`Heard.wait` returns the first item that matches, or fails the test at its deadline with
what was heard: a test waits on a condition, never on a guessed ``sleep``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Heard(Generic[T]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self._added = threading.Condition()

    def add(self, item: T) -> None:
        with self._added:
            self.items.append(item)
            self._added.notify_all()

    def follow(self: Heard[str], stream: Iterable[str]) -> None:
        """Add every line of ``stream`` (without its newline) from a thread of its own."""

        def read() -> None:
            for line in stream:
                self.add(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()

    def wait(
        self,
        wanted: Callable[[T], bool],
        timeout: float,
        what: str,
        going_on: Callable[[], bool] = lambda: True,
    ) -> T:
        """The first item ``wanted`` accepts, within ``timeout`` seconds; fails sooner once
        ``going_on()`` is false (what would report it has ended)."""
        deadline = time.monotonic() + timeout
        with self._added:
            while True:
                found = next((item for item in self.items if wanted(item)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"no {what} in {timeout} s; heard: {self.items}"
                assert going_on(), f"no {what}, and it has ended; heard: {self.items}"
                self._added.wait(min(left, 0.5))
