"""``database_url``: each test that takes it runs once on a SQLite file and once on the private
PostgreSQL server (skipped, with the reason, where that server cannot start)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'errand.db'}"
    return request.getfixturevalue("postgres_url")
