"""The ``e2e`` mark, given by place and by what a test uses so that a new test cannot forget it.

``make test-fast`` runs ``pytest -m "not e2e"`` for the edit-test loop; ``make test`` runs
everything. A test is end-to-end (it runs a real program and waits on it) when:

- it lives in ``tests/e2e/``;
- its module uses the e2e harness (:mod:`tests.e2e.harness`, :mod:`tests.deploy.botproc`): the
  real ``errandbot run`` process against the Bot API emulator;
- it asks for a fixture that starts that process (``bot``, ``make_bot``, ``webhook_bot``), or
  for the private PostgreSQL server (``postgres_cluster``, ``postgres_url``, the ``postgresql``
  case of ``database_url``);
- it says so itself: ``pytestmark = pytest.mark.e2e`` in a module that runs the CLI, the
  sandbox, docker or nginx as a subprocess, or ``@pytest.mark.e2e`` on one such test.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

# The private PostgreSQL server's fixtures (postgres_cluster, postgres_url) for every test.
pytest_plugins = ("tests.pgcluster",)

_E2E_DIR = Path(__file__).parent / "e2e"
_HARNESS_MODULES = frozenset({"tests.e2e.harness", "tests.deploy.botproc"})
_BOT_FIXTURES = frozenset({"bot", "make_bot", "webhook_bot"})
_SERVER_FIXTURES = frozenset({"postgres_cluster", "postgres_url"})


@cache
def _imports_harness(path: Path) -> bool:
    """True when the test file at ``path`` imports the harness (or anything from it)."""
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module in _HARNESS_MODULES:
            return True
        if isinstance(node, ast.Import) and any(a.name in _HARNESS_MODULES for a in node.names):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e"):
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            _E2E_DIR in item.path.parents
            or fixtures & (_BOT_FIXTURES | _SERVER_FIXTURES)
            or _on_postgres(item)
            or (item.path.suffix == ".py" and _imports_harness(item.path))
        ):
            item.add_marker(pytest.mark.e2e)


def _on_postgres(item: pytest.Item) -> bool:
    """The ``postgresql`` case of tests/db's ``database_url`` (which starts the server on
    demand)."""
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("database_url") == "postgresql"


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    """``cli(*argv)`` runs ``errandbot download *argv`` in-process, in a temporary folder with
    loopback allowed; returns (exit code, stdout, stderr)."""
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOWNLOAD_ALLOW_NETWORKS", "127.0.0.0/8")

    def invoke(*argv: str):
        code = main(["download", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
