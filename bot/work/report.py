"""What ``errandbot check`` says of the queue (PostgreSQL mode): jobs waiting, the oldest one's
age, jobs running, and the workers seen in the last minute (their heartbeats)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, inspect, text

SEEN_WITHIN = 60  # seconds: a worker with a heartbeat this recent counts as up

_QUERY = text(
    """
    SELECT
      (SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'),
      (SELECT extract(epoch FROM now() - min(e.at))
         FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
        WHERE j.status = 'todo' AND e.type = 'deferred'),
      (SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'),
      (SELECT count(*) FROM procrastinate_workers
        WHERE last_heartbeat > now() - make_interval(secs => :seen))
    """
)


@dataclass(frozen=True)
class QueueReport:
    waiting: int
    oldest_wait: float | None  # seconds the oldest waiting job has waited; None: none waits
    running: int
    workers: int  # seen in the last SEEN_WITHIN seconds


def queue_report(conn: Connection) -> QueueReport | None:
    """The queue's state, or None when its tables are not there yet (created on first start)."""
    if "procrastinate_jobs" not in inspect(conn).get_table_names():
        return None
    waiting, oldest, running, workers = conn.execute(_QUERY, {"seen": SEEN_WITHIN}).one()
    return QueueReport(
        int(waiting), float(oldest) if oldest is not None else None, int(running), int(workers)
    )
