"""The private PostgreSQL server the database tests run against is real and private."""

from __future__ import annotations

import sqlalchemy as sa


def test_fixture_gives_a_real_empty_postgres_database_on_loopback(postgres_url):
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            listen = conn.execute(sa.text("SHOW listen_addresses")).scalar_one()
            tables = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    assert int(version.split(".")[0]) >= 13
    assert listen == "127.0.0.1"
    assert tables == []
