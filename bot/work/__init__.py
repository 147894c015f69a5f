"""PostgreSQL mode's division of labour: what each process does (:mod:`.role`), the download
queue in PostgreSQL (procrastinate) and ``errandbot worker`` (:mod:`.process`)."""
