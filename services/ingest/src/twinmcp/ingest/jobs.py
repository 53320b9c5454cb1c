"""Durable ingest jobs in SQL: submit, claim with a lease, heartbeat, progress, cancel, finish."""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from twinmcp.ingest.errors import JobNotFound, QueueFull

metadata = MetaData()

jobs_table = Table(
    "ingest_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("library_id", String(512), nullable=False, index=True),
    Column("version", String(256), nullable=False, default=""),
    Column("source", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("progress", JSON, nullable=False),
    Column("error", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False, index=True),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
)


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
# An arbitrary constant naming the PostgreSQL advisory lock that serialises submissions.
_SUBMIT_LOCK = 0x7477696E_6D6370


@dataclass(frozen=True)
class SourceOptions:
    """What the caller asked for besides the source string."""

    ref: str = ""
    version: str = ""
    max_pages: int = 0
    max_depth: int = 0
    make_default: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "version": self.version,
            "max_pages": self.max_pages,
            "max_depth": self.max_depth,
            "make_default": self.make_default,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SourceOptions:
        return cls(
            ref=str(raw.get("ref", "")),
            version=str(raw.get("version", "")),
            max_pages=int(raw.get("max_pages", 0)),
            max_depth=int(raw.get("max_depth", 0)),
            make_default=bool(raw.get("make_default", True)),
        )


@dataclass
class Progress:
    files_total: int = 0
    files_done: int = 0
    files_skipped: int = 0
    snippets: int = 0
    embeddings: int = 0
    phase: str = "queued"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "files_total": self.files_total,
            "files_done": self.files_done,
            "files_skipped": self.files_skipped,
            "snippets": self.snippets,
            "embeddings": self.embeddings,
            "phase": self.phase,
            # Notes (skipped files and why) are capped so a hostile source cannot bloat the row.
            "notes": self.notes[:200],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Progress:
        return cls(
            files_total=int(raw.get("files_total", 0)),
            files_done=int(raw.get("files_done", 0)),
            files_skipped=int(raw.get("files_skipped", 0)),
            snippets=int(raw.get("snippets", 0)),
            embeddings=int(raw.get("embeddings", 0)),
            phase=str(raw.get("phase", "")),
            notes=[str(n) for n in raw.get("notes", [])],
        )


@dataclass(frozen=True)
class Job:
    job_id: str
    library_id: str
    version: str
    source: str
    options: SourceOptions
    state: JobState
    attempts: int
    max_attempts: int
    progress: Progress
    error: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    cancel_requested: bool = False
    lease_owner: str | None = None


def rfc3339(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def _job(row: RowMapping) -> Job:
    return Job(
        job_id=row["id"],
        library_id=row["library_id"],
        version=row["version"],
        source=row["source"],
        options=SourceOptions.from_json(row["options"] or {}),
        state=JobState(row["state"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        progress=Progress.from_json(row["progress"] or {}),
        error=row["error"] or "",
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        cancel_requested=bool(row["cancel_requested"]),
        lease_owner=row["lease_owner"],
    )


@dataclass(frozen=True)
class Heartbeat:
    is_owner: bool
    cancel_requested: bool


class JobStore:
    """All job state lives here; several worker processes share it through the database."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lease_seconds: float,
        max_attempts: int,
        max_queued: int = 100,
        max_queued_per_library: int = 10,
    ) -> None:
        self.engine = engine
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.max_queued = max_queued
        self.max_queued_per_library = max_queued_per_library
        self._is_postgres = engine.dialect.name == "postgresql"
        # Submissions of one process in turn, so two identical ones cannot both be inserted.
        self._submitting = asyncio.Lock()

    async def submit(self, library_id: str, source: str, options: SourceOptions) -> Job:
        """Queues a job; an identical one still queued or running is returned instead.

        Raises QueueFull when too many jobs wait, overall or for this library.
        """
        async with self._submitting, self.engine.begin() as conn:
            if self._is_postgres:
                # Replicas of the service share the database: the same exclusion across them.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SUBMIT_LOCK}
                )
            existing = await self._same_job(conn, library_id, source, options)
            if existing is not None:
                return existing
            await self._check_queue(conn, library_id)
            job_id = uuid.uuid4().hex
            await conn.execute(
                jobs_table.insert().values(
                    id=job_id,
                    library_id=library_id,
                    version=options.version,
                    source=source,
                    options=options.to_json(),
                    state=JobState.QUEUED.value,
                    attempts=0,
                    max_attempts=self.max_attempts,
                    lease_owner=None,
                    lease_until=None,
                    cancel_requested=False,
                    progress=Progress().to_json(),
                    error="",
                    created_at=time.time(),
                )
            )
        return await self.get(job_id)

    async def _same_job(
        self, conn: AsyncConnection, library_id: str, source: str, options: SourceOptions
    ) -> Job | None:
        rows = (
            (
                await conn.execute(
                    select(jobs_table)
                    .where(
                        jobs_table.c.library_id == library_id,
                        jobs_table.c.source == source,
                        jobs_table.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
                        jobs_table.c.cancel_requested.is_(False),
                    )
                    .order_by(jobs_table.c.created_at)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            job = _job(row)
            if job.options == options:
                return job
        return None

    async def _check_queue(self, conn: AsyncConnection, library_id: str) -> None:
        queued = jobs_table.c.state == JobState.QUEUED.value
        total = (await conn.execute(select(func.count()).where(queued))).scalar_one()
        if total >= self.max_queued:
            raise QueueFull(
                f"{total} ingest jobs are already waiting for a worker (the limit is "
                f"{self.max_queued}, INGEST_MAX_QUEUED_JOBS); submit again when some have finished"
            )
        for_library = (
            await conn.execute(
                select(func.count()).where(queued, jobs_table.c.library_id == library_id)
            )
        ).scalar_one()
        if for_library >= self.max_queued_per_library:
            raise QueueFull(
                f"{for_library} ingest jobs for {library_id} are already waiting for a worker "
                f"(the limit is {self.max_queued_per_library}, "
                "INGEST_MAX_QUEUED_JOBS_PER_LIBRARY); wait for them or cancel some"
            )

    async def get(self, job_id: str) -> Job:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(jobs_table).where(jobs_table.c.id == job_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise JobNotFound(f"no ingest job {job_id!r}; list jobs to find its id")
        return _job(row)

    async def list(
        self,
        *,
        library_id: str = "",
        states: Sequence[JobState] = (),
        limit: int = 50,
    ) -> list[Job]:
        query = select(jobs_table).order_by(jobs_table.c.created_at.desc()).limit(limit)
        if library_id:
            query = query.where(jobs_table.c.library_id == library_id)
        if states:
            query = query.where(jobs_table.c.state.in_([s.value for s in states]))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_job(row) for row in rows]

    async def last_for_library(self, library_id: str) -> Job | None:
        jobs = await self.list(library_id=library_id, limit=1)
        return jobs[0] if jobs else None

    async def claim(self, worker_id: str) -> Job | None:
        """Takes the oldest queued job, or one whose worker's lease ran out, for `worker_id`."""
        now = time.time()
        claimable = or_(
            jobs_table.c.state == JobState.QUEUED.value,
            and_(
                jobs_table.c.state == JobState.RUNNING.value,
                jobs_table.c.lease_until < now,
            ),
        )
        async with self.engine.begin() as conn:
            await self._fail_exhausted(conn, now)
            query = (
                select(jobs_table.c.id).where(claimable).order_by(jobs_table.c.created_at).limit(1)
            )
            if self._is_postgres:
                query = query.with_for_update(skip_locked=True)
            job_id = (await conn.execute(query)).scalar_one_or_none()
            if job_id is None:
                return None
            # The WHERE repeats the claim condition so that on SQLite, which has no row locks,
            # two workers racing for the same row cannot both win.
            result = await conn.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, claimable)
                .values(
                    state=JobState.RUNNING.value,
                    lease_owner=worker_id,
                    lease_until=now + self.lease_seconds,
                    attempts=jobs_table.c.attempts + 1,
                    started_at=now,
                )
            )
            if result.rowcount != 1:
                return None
        return await self.get(job_id)

    async def _fail_exhausted(self, conn: AsyncConnection, now: float) -> None:
        await conn.execute(
            update(jobs_table)
            .where(
                jobs_table.c.state == JobState.RUNNING.value,
                jobs_table.c.lease_until < now,
                jobs_table.c.attempts >= jobs_table.c.max_attempts,
            )
            .values(
                state=JobState.FAILED.value,
                finished_at=now,
                lease_owner=None,
                error="the job's worker stopped responding on every attempt; "
                "check the worker logs, then resubmit the source",
            )
        )

    async def heartbeat(
        self, job_id: str, worker_id: str, progress: Progress | None = None
    ) -> Heartbeat:
        """Extends the lease; says if this worker still owns the job and if cancel was asked."""
        values: dict[str, Any] = {"lease_until": time.time() + self.lease_seconds}
        if progress is not None:
            values["progress"] = progress.to_json()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(jobs_table)
                .where(
                    jobs_table.c.id == job_id,
                    jobs_table.c.lease_owner == worker_id,
                    jobs_table.c.state == JobState.RUNNING.value,
                )
                .values(**values)
            )
            cancel = (
                await conn.execute(
                    select(jobs_table.c.cancel_requested).where(jobs_table.c.id == job_id)
                )
            ).scalar_one_or_none()
        return Heartbeat(is_owner=result.rowcount == 1, cancel_requested=bool(cancel))

    async def set_version(self, job_id: str, worker_id: str, version: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.lease_owner == worker_id)
                .values(version=version)
            )

    async def finish(
        self,
        job_id: str,
        worker_id: str,
        state: JobState,
        *,
        progress: Progress | None = None,
        error: str = "",
    ) -> bool:
        values: dict[str, Any] = {
            "state": state.value,
            "error": error,
            "lease_owner": None,
            "lease_until": None,
        }
        if state in FINAL_STATES:
            values["finished_at"] = time.time()
        if progress is not None:
            values["progress"] = progress.to_json()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.lease_owner == worker_id)
                .values(**values)
            )
        return result.rowcount == 1

    async def cancel(self, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one is flagged and its worker stops it."""
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.state == JobState.QUEUED.value)
                .values(state=JobState.CANCELLED.value, finished_at=now, cancel_requested=True)
            )
            await conn.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.state == JobState.RUNNING.value)
                .values(cancel_requested=True)
            )
        return await self.get(job_id)
