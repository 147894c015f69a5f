"""Fixtures for end-to-end tests: a fresh emulator and a real bot process per test.

Every test that uses ``bot`` also checks, at teardown, that the bot token never appeared in
anything the process printed or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.harness import BotProcess
from tests.origin import Origin


@pytest.fixture
def origin() -> Iterator[Origin]:
    """A real local HTTP origin on 127.0.0.1 (tests add files and behaviours to it)."""
    with Origin() as server:
        yield server


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emu:
        yield emu


@pytest.fixture
def make_bot(emulator: BotApiEmulator, tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    """``make_bot(**env)`` returns a started bot; extra env entries override the defaults;
    ``command="worker"`` starts ``errandbot worker`` instead of ``errandbot run``."""
    made: list[BotProcess] = []

    def factory(start: bool = True, command: str = "run", **env: str) -> BotProcess:
        process = BotProcess(
            emulator,
            tmp_path / f"data{len(made)}",
            {k.upper(): v for k, v in env.items()},
            command=command,
        )
        process.data_dir.mkdir()
        made.append(process)
        return process.start() if start else process

    yield factory
    for process in made:
        process.close()
        secret = emulator.token.split(":", 1)[1]
        assert secret not in process.output, "the bot token leaked into the bot's output"


@pytest.fixture
def bot(make_bot: Callable[..., BotProcess]) -> BotProcess:
    return make_bot()
