"""The revisions, one module each, named ``NNNN_what.py``; ``0001_baseline`` is the schema the
version steps of ``bot/schema.py`` (releases before Alembic) ended at."""
