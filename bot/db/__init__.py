"""The database as an operator handles it: migrations (:mod:`.migrate`), copying an install from
SQLite to PostgreSQL (:mod:`.copy`) and the ``errandbot db`` commands (:mod:`.commands`)."""
