"""PostgreSQL mode's division of labour: what each process does (:mod:`.role`), ``errandbot
worker`` (:mod:`.process`), and the download queue in PostgreSQL through procrastinate: the App
(:mod:`.queue`), slots counted in the database (:mod:`.slots`), the download task
(:mod:`.downloads`), housekeeping once per deployment (:mod:`.sweeps`) and what ``errandbot
check`` says of the queue (:mod:`.report`)."""
