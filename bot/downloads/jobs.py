"""Download jobs as database rows, so that a crash or restart loses none of them.

A job is what someone asked for in a chat: the URL, who asked where, which status message shows
it, and how far it got. The bytes themselves live in the job's own folder
(``DOWNLOAD_DIR/<unguessable token>/``), where the engine keeps ``NAME.part`` and its control file;
this row only has to remember which folder and which name.
"""

from __future__ import annotations

import enum
import time

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db_base import Base


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # the file is complete on disk (delivered or kept, see ``delivered``)
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # the file was removed by retention

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED)


class DownloadJob(Base):
    """One ``/download`` request, from the moment it is accepted until its file expires."""

    __tablename__ = "download_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    #: The forum topic (``message_thread_id``) the request came from; None outside topics.
    thread_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_name: Mapped[str] = mapped_column(String(128), default="")
    request_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    url: Mapped[str] = mapped_column(Text)
    requested_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    folder: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED, index=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    done_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    resumed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    elapsed: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The reply language it was asked in (a catalog code, e.g. ``zh``), for its result; None:
    #: English.
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)

    @property
    def ref(self) -> str:
        """The id people type: ``d7``."""
        return f"d{self.id}"

    @property
    def job_state(self) -> JobState:
        return JobState(self.state)
