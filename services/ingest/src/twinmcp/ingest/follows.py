"""Followed libraries: registry packages whose new releases are queued as jobs on a schedule."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import JSON, Column, Float, String, Table, Text, and_, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from twinmcp.ingest.config import Settings
from twinmcp.ingest.errors import IngestError, LibraryNotFound, NotFollowable, QueueFull
from twinmcp.ingest.fetching.registry import list_releases
from twinmcp.ingest.jobs import JobState, JobStore, SourceOptions, jobs_table, metadata
from twinmcp.ingest.registries import Registry, ReleaseInfo, is_prerelease, is_registry_source
from twinmcp.ingest.sources import parse_source

logger = logging.getLogger(__name__)

follows_table = Table(
    "ingest_follows",
    metadata,
    Column("library_id", String(512), primary_key=True),
    Column("source", Text, nullable=False),
    Column("seen", JSON, nullable=False),  # release versions already handled
    Column("queued", JSON, nullable=False),  # versions the last check queued jobs for
    Column("newest_release", String(256), nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Column("followed_at", Float, nullable=False),
    Column("checked_at", Float, nullable=True),
    Column("claimed_at", Float, nullable=True),
    Column("claimed_by", String(128), nullable=True),
)

# A check queues at most this many releases, newest first: a package that published dozens
# since the last check should not fill the queue with old ones.
MAX_RELEASES_PER_CHECK = 5
# How long a replica's claim on a check holds before another may take it over (it crashed).
CLAIM_SECONDS = 600.0

# The release list of a registry package ("pypi:flask"), newest first.
ReleaseLister = Callable[[Registry, str], Awaitable[list[ReleaseInfo]]]


@dataclass(frozen=True)
class Follow:
    library_id: str
    source: str
    newest_release: str
    last_error: str
    followed_at: float
    checked_at: float | None
    queued: tuple[str, ...]


def _follow(row: RowMapping) -> Follow:
    return Follow(
        library_id=row["library_id"],
        source=row["source"],
        newest_release=row["newest_release"],
        last_error=row["last_error"],
        followed_at=row["followed_at"],
        checked_at=row["checked_at"],
        queued=tuple(row["queued"] or ()),
    )


def _usable(registry: Registry, release: ReleaseInfo) -> bool:
    return not release.is_yanked and not is_prerelease(registry, release.version)


class FollowStore:
    """The followed libraries and their checks, shared by every replica through the database."""

    def __init__(self, engine: AsyncEngine, jobs: JobStore) -> None:
        self.engine = engine
        self.jobs = jobs

    async def follow(self, library_id: str, list_releases: ReleaseLister) -> Follow:
        """Follows `library_id` from the registry package it was last ingested from.

        The releases published so far count as handled, except the newest usable one when no
        job ingested it: the first check queues it.
        """
        existing = await self.get(library_id)
        if existing is not None:
            return existing
        jobs = await self.jobs.list(library_id=library_id, limit=200)
        if not jobs:
            raise LibraryNotFound(
                f"{library_id!r} was never ingested here; ingest it from its package registry "
                "first (twinmcp ingest pypi:<name> or npm:<name>), then follow it"
            )
        registry_job = next((j for j in jobs if is_registry_source(j.source)), None)
        if registry_job is None:
            raise NotFollowable(
                f"{library_id} was not ingested from a package registry (last source: "
                f"{jobs[0].source}); only registry libraries can be followed: ingest it with "
                "pypi:<name> or npm:<name>, then follow it"
            )
        source = registry_job.source
        spec = parse_source(source)
        registry = Registry(spec.kind.value)
        releases = await list_releases(registry, spec.repo)
        usable = [r.version for r in releases if _usable(registry, r)]
        newest = usable[0] if usable else ""
        ingested = {
            j.version
            for j in jobs
            if j.source == source
            and j.state is not JobState.FAILED
            and j.state is not JobState.CANCELLED
        }
        seen = [r.version for r in releases if r.version != newest or newest in ingested]
        async with self.engine.begin() as conn:
            already = (
                await conn.execute(
                    select(follows_table.c.library_id).where(
                        follows_table.c.library_id == library_id
                    )
                )
            ).first()
            if already is None:
                await conn.execute(
                    follows_table.insert().values(
                        library_id=library_id,
                        source=source,
                        seen=seen,
                        queued=[],
                        newest_release=newest,
                        last_error="",
                        followed_at=time.time(),
                        checked_at=None,
                        claimed_at=None,
                        claimed_by=None,
                    )
                )
        followed = await self.get(library_id)
        if followed is None:  # unfollowed between the insert and this read
            raise LibraryNotFound(f"{library_id} is not followed; follow it again")
        return followed

    async def unfollow(self, library_id: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                follows_table.delete().where(follows_table.c.library_id == library_id)
            )
        if result.rowcount == 0:
            raise LibraryNotFound(f"{library_id} is not followed; list followed libraries")

    async def get(self, library_id: str) -> Follow | None:
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(follows_table).where(follows_table.c.library_id == library_id)
                    )
                )
                .mappings()
                .first()
            )
        return _follow(row) if row is not None else None

    async def all(self) -> list[Follow]:
        async with self.engine.connect() as conn:
            rows = (
                (await conn.execute(select(follows_table).order_by(follows_table.c.library_id)))
                .mappings()
                .all()
            )
        return [_follow(row) for row in rows]

    async def claim_due(self, owner: str, interval: float) -> list[str]:
        """The followed libraries this replica checks now: each is claimed with one guarded
        UPDATE, so of replicas ticking together exactly one checks a library per interval."""
        now = time.time()
        due = or_(
            follows_table.c.checked_at.is_(None), follows_table.c.checked_at <= now - interval
        )
        free = or_(
            follows_table.c.claimed_at.is_(None), follows_table.c.claimed_at <= now - CLAIM_SECONDS
        )
        async with self.engine.connect() as conn:
            candidates = list(
                (await conn.execute(select(follows_table.c.library_id).where(and_(due, free))))
                .scalars()
                .all()
            )
        claimed: list[str] = []
        for library_id in candidates:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    follows_table.update()
                    .where(follows_table.c.library_id == library_id, due, free)
                    .values(claimed_at=now, claimed_by=owner)
                )
            if result.rowcount == 1:
                claimed.append(library_id)
        return claimed

    async def check(self, library_id: str, owner: str, list_releases: ReleaseLister) -> Follow:
        """Asks the registry and queues one job per new usable release (newest is the default)."""
        follow = await self._claimed_row(library_id, owner)
        if follow is None:
            raise LibraryNotFound(f"{library_id} is not followed (or another replica checks it)")
        source, seen = follow
        spec = parse_source(source)
        registry = Registry(spec.kind.value)
        queued: list[str] = []
        error = ""
        newest = ""
        try:
            releases = await list_releases(registry, spec.repo)
            usable = [r.version for r in releases if _usable(registry, r)]
            newest = usable[0] if usable else ""
            fresh = [v for v in usable if v not in seen][:MAX_RELEASES_PER_CHECK]
            # Oldest first, so the newest is queued last and becomes the default.
            for version in reversed(fresh):
                if not await self._has_job(library_id, source, version):
                    options = SourceOptions(version=version, make_default=version == newest)
                    await self.jobs.submit(library_id, source, options)
                    queued.append(version)
                seen.add(version)
            # What is not usable or beyond this check's share is handled too: never queued later.
            seen.update(r.version for r in releases)
        except QueueFull as exc:
            error = f"{exc} ({len(queued)} queued this check; the rest at the next)"
        except IngestError as exc:
            error = str(exc)
        async with self.engine.begin() as conn:
            values: dict[str, object] = {
                "seen": sorted(seen),
                "queued": queued,
                "last_error": error,
                "checked_at": time.time(),
                "claimed_at": None,
                "claimed_by": None,
            }
            if newest:
                values["newest_release"] = newest
            await conn.execute(
                follows_table.update()
                .where(
                    follows_table.c.library_id == library_id, follows_table.c.claimed_by == owner
                )
                .values(**values)
            )
        if error:
            logger.warning("following %s: %s", library_id, error)
        elif queued:
            logger.info("following %s: queued %s", library_id, ", ".join(queued))
        checked = await self.get(library_id)
        if checked is None:
            raise LibraryNotFound(f"{library_id} was unfollowed during its check")
        return checked

    async def _claimed_row(self, library_id: str, owner: str) -> tuple[str, set[str]] | None:
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(follows_table.c.source, follows_table.c.seen).where(
                            follows_table.c.library_id == library_id,
                            follows_table.c.claimed_by == owner,
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return str(row["source"]), {str(v) for v in row["seen"] or ()}

    async def _has_job(self, library_id: str, source: str, version: str) -> bool:
        """Whether a job for this release is queued, running or done (a replica that crashed
        mid-check may have queued it already)."""
        live = [JobState.QUEUED.value, JobState.RUNNING.value, JobState.SUCCEEDED.value]
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(jobs_table.c.id)
                    .where(
                        jobs_table.c.library_id == library_id,
                        jobs_table.c.source == source,
                        jobs_table.c.version == version,
                        jobs_table.c.state.in_(live),
                    )
                    .limit(1)
                )
            ).first()
        return row is not None


class Follower:
    """Checks the followed libraries that are due, every `interval` seconds, until stopped."""

    def __init__(self, follows: FollowStore, list_releases: ReleaseLister, interval: float) -> None:
        self.follows = follows
        self.list_releases = list_releases
        self.interval = interval
        self.owner = f"{socket.gethostname()}-follow-{uuid.uuid4().hex[:8]}"

    async def run_once(self) -> list[Follow]:
        checked: list[Follow] = []
        for library_id in await self.follows.claim_due(self.owner, self.interval):
            try:
                checked.append(await self.follows.check(library_id, self.owner, self.list_releases))
            except IngestError as exc:
                logger.warning("following %s: %s", library_id, exc)
        return checked

    async def run_forever(self, stop: asyncio.Event) -> None:
        # Ticks more often than the interval, so a library followed just now is checked soon.
        tick = min(self.interval, 60.0)
        while not stop.is_set():
            try:
                await self.run_once()
            except SQLAlchemyError as exc:
                # The database is away for a moment: the next tick tries again.
                logger.warning("following: the job database failed (%s); retrying", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=tick)
            except TimeoutError:
                continue


def make_follower(jobs: JobStore, settings: Settings) -> Follower:
    """The follower of a replica: every INGEST_FOLLOW_INTERVAL_SECONDS, the registries asked
    with the workers' generous bound."""

    async def releases(registry: Registry, name: str) -> list[ReleaseInfo]:
        return await list_releases(registry, name, settings)

    return Follower(FollowStore(jobs.engine, jobs), releases, settings.follow_interval_seconds)
