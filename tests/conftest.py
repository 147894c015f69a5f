"""Fixtures for the whole suite: the private PostgreSQL server (``tests/pgcluster.py``)."""

pytest_plugins = ("tests.pgcluster",)
