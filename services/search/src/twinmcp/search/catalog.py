"""Libraries, their versions and projects as a replica knows them: resolution, lookups, listing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from cachetools import TTLCache
from twinmcp.search.changes import EVERY_LIBRARY, ChangeFeed
from twinmcp.search.errors import InvalidInputError, NotFoundError
from twinmcp.search.heap import build_long_lived
from twinmcp.search.identity import build_resolver
from twinmcp.search.library import (
    SOURCE_TYPE_CATALOG,
    CatalogEntry,
    LibraryInfo,
    LibraryMeta,
    PackageRef,
)
from twinmcp.search.libraryid import canonical_library_id
from twinmcp.search.limits import (
    MAX_LIBRARY_ID_CHARS,
    MAX_LIBRARY_NAME_CHARS,
    MAX_PROJECT_CHARS,
    MAX_QUERY_CHARS,
    check_length,
)
from twinmcp.search.ownertext import clean_description
from twinmcp.search.projects import (
    LockedPackage,
    PackageOwners,
    check_packages,
    check_project_name,
    locked_version,
)
from twinmcp.search.resolution import Candidate, Match, Resolver, repo_name
from twinmcp.search.store import Store

# How long a replica trusts what it read of a library's versions. Its own publishes show at
# once; another replica's publish within this time. Without it every query, cached or not, paid
# three database reads before its answer-cache lookup (most of a cached answer's CPU).
LIBRARY_FRESH_SECONDS = 1.0
_MAX_LIBRARIES_REMEMBERED = 10_000
# Projects kept in memory per replica, and how long one is trusted before it is read again.
_MAX_PROJECTS_REMEMBERED = 256
PROJECT_FRESH_SECONDS = 10.0
# How long the resolution index is used before the store's generation is read again.
_RESOLVER_FRESH_SECONDS = 1.0
# Words of a ResolveLibrary query used as description evidence: more add cost, not accuracy.
MAX_RESOLVE_QUERY_WORDS = 32


class _Unseen:
    """What the freshness cache answers for a library it does not hold (None is an answer)."""


_UNSEEN = _Unseen()


class Catalog:
    """Which libraries exist and which of their versions are indexed, as this replica read them
    lately, the resolution index over them and the catalog, and the registered projects.

    A change on the feed (this replica's publish, or another's over Redis) makes it read the
    library again, and the resolution index is rebuilt when the store's generation moved.
    """

    def __init__(
        self,
        store: Store,
        changes: ChangeFeed,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._resolver: Resolver | None = None
        # The documented libraries as read for the resolution index, with their popularity:
        # ResolveLibrary answers from them (as fresh as the index) instead of reading them again.
        self._resolved_libraries: dict[str, LibraryInfo] = {}
        self._package_owners = PackageOwners(())
        self._resolver_generation = -1
        self._resolver_checked = 0.0
        self._resolver_lock = asyncio.Lock()
        # Full, it forgets the least recently asked library, never all of them at once.
        self._libraries: TTLCache[str, LibraryInfo | None] = TTLCache(
            _MAX_LIBRARIES_REMEMBERED, LIBRARY_FRESH_SECONDS, timer=clock
        )
        # Projects as read at most PROJECT_FRESH_SECONDS ago (another replica may re-register).
        self._projects: TTLCache[str, list[LockedPackage]] = TTLCache(
            _MAX_PROJECTS_REMEMBERED, PROJECT_FRESH_SECONDS, timer=clock
        )
        changes.on_change(self._forget)

    def _forget(self, library_id: str) -> None:
        """Drops what this replica remembers of a changed library (EVERY_LIBRARY: of all)."""
        if library_id == EVERY_LIBRARY:
            self._libraries.clear()
        else:
            self._libraries.pop(library_id, None)
        self._resolver_checked = 0.0

    # ---- libraries ----------------------------------------------------------------------

    async def library(self, library_id: str) -> LibraryInfo | None:
        """The library's versions as read at most LIBRARY_FRESH_SECONDS ago."""
        # One `get`, not `in` then `[]`: the entry could expire between the two.
        seen = self._libraries.get(library_id, _UNSEEN)
        if not isinstance(seen, _Unseen):
            return seen
        info = await self.store.library(library_id)
        self._libraries[library_id] = info
        return info

    async def unknown_library(self, library_id: str) -> NotFoundError:
        """The refusal of a library not indexed, naming close documented ones."""
        resolver = await self.resolver()
        name = repo_name(library_id.strip("/"))
        resolved = await asyncio.to_thread(resolver.resolve, name, "", 5)
        matches = [m for m in resolved if m.candidate.is_documented]
        suggestions = [m.candidate.library_id for m in matches]
        hint = (
            f" Did you mean {', '.join(suggestions)}?"
            if suggestions
            else " Find the id with ResolveLibrary."
        )
        return NotFoundError(
            f"library {library_id} is not indexed.{hint}",
            suggestions=suggestions,
            library_id=library_id,
        )

    async def get_library(self, library_id: str) -> tuple[LibraryInfo, int]:
        """The library and its catalog popularity rank."""
        check_length("library_id", library_id, MAX_LIBRARY_ID_CHARS)
        canonical = canonical_library_id(library_id)
        info = await self.store.library(canonical)
        if info is not None:
            return info, info.popularity_rank
        resolver = await self.resolver()
        for candidate in resolver.candidates:
            if candidate.library_id == canonical and not candidate.is_documented:
                return catalog_info(candidate), candidate.popularity_rank
        raise await self.unknown_library(canonical)

    async def list_libraries(
        self, page_size: int, page_token: str, include_catalog: bool
    ) -> tuple[list[LibraryInfo], str]:
        check_length("page_token", page_token, MAX_LIBRARY_ID_CHARS)
        size = 50 if page_size <= 0 else min(page_size, 500)
        if not include_catalog:
            page = await self.store.libraries(page_token, size + 1)
            next_token = page[size - 1].meta.library_id if len(page) > size else ""
            return page[:size], next_token
        resolver = await self.resolver()
        ordered = sorted(resolver.candidates, key=lambda c: c.library_id)
        after = [c for c in ordered if c.library_id > page_token][: size + 1]
        infos: list[LibraryInfo] = []
        for candidate in after[:size]:
            if candidate.is_documented:
                info = await self.store.library(candidate.library_id)
                if info is not None:
                    infos.append(info)
                    continue
            infos.append(catalog_info(candidate))
        next_token = after[size - 1].library_id if len(after) > size else ""
        return infos, next_token

    # ---- resolution ---------------------------------------------------------------------

    async def resolver(self) -> Resolver:
        """The resolution index, rebuilt when any replica changed libraries or the catalog."""
        now = time.monotonic()
        if self._resolver is not None and now - self._resolver_checked < _RESOLVER_FRESH_SECONDS:
            return self._resolver
        async with self._resolver_lock:
            if (
                self._resolver is not None
                and time.monotonic() - self._resolver_checked < _RESOLVER_FRESH_SECONDS
            ):
                return self._resolver
            generation = await self.store.generation()
            if self._resolver is None or generation != self._resolver_generation:
                libraries = await self.store.all_libraries(with_doc_terms=True)
                entries = await self.store.catalog_entries()
                self._resolver = await asyncio.to_thread(
                    build_long_lived, build_resolver, libraries, entries
                )
                # The resolver has read their words; the libraries kept do not hold them.
                libraries = [replace(info, doc_terms=()) for info in libraries]
                self._resolved_libraries = with_popularity(libraries, entries)
                self._package_owners = PackageOwners(info.meta for info in libraries)
                self._resolver_generation = generation
            self._resolver_checked = time.monotonic()
            return self._resolver

    async def resolve(self, library_name: str, query: str, limit: int) -> list[Match]:
        check_length("library_name", library_name, MAX_LIBRARY_NAME_CHARS)
        check_length("query", query, MAX_QUERY_CHARS)
        if not library_name.strip() and not query.strip():
            raise InvalidInputError("library_name is empty; give a library or package name")
        limit = 10 if limit <= 0 else min(limit, 50)
        # Resolution's cost grows with the words it reads (a 2,000-character query of 300 words
        # took 210 ms, its first 32 words 70 ms, a name alone 1.4 ms): past a few dozen words
        # more add cost, not accuracy.
        bounded = " ".join(query.split()[:MAX_RESOLVE_QUERY_WORDS])
        library_name = " ".join(library_name.split()[:MAX_RESOLVE_QUERY_WORDS])
        resolver = await self.resolver()
        # Resolution over the whole catalog is CPU work: in a thread, off the event loop.
        return await asyncio.to_thread(resolver.resolve, library_name or bounded, bounded, limit)

    async def resolve_libraries(
        self, library_name: str, query: str, limit: int
    ) -> list[tuple[Match, LibraryInfo]]:
        """`resolve`'s matches with their libraries: the documented ones as read for the
        resolution index (a publish or a deletion moves the store's generation, so they are as
        fresh as the index; reading them again took half of a call's time at 1,000 libraries),
        and catalog-only ones as `catalog_info` describes them."""
        matches = await self.resolve(library_name, query, limit)
        stored = self._resolved_libraries
        out: list[tuple[Match, LibraryInfo]] = []
        for match in matches:
            candidate = match.candidate
            if not candidate.is_documented:
                out.append((match, catalog_info(candidate)))
            elif candidate.library_id in stored:  # else deleted since the index was built
                out.append((match, stored[candidate.library_id]))
        return out

    # ---- projects -----------------------------------------------------------------------

    async def register_project(
        self, name: str, packages: Sequence[LockedPackage]
    ) -> list[tuple[LockedPackage, str, bool]]:
        """Stores the project; each package with the documented library that claims it ("" for
        none) and whether that library has the locked version indexed."""
        name = check_project_name(name)
        kept = check_packages(packages)
        await self.store.save_project(name, [(p.registry, p.name, p.version) for p in kept])
        self._projects[name] = kept
        libraries = {
            info.meta.library_id: info for info in await self.store.all_libraries() if info.versions
        }
        # One lookup per package (asking every library took 406 ms, on the event loop, for 200
        # packages at 1,000 libraries).
        owners = PackageOwners(info.meta for info in libraries.values())
        out: list[tuple[LockedPackage, str, bool]] = []
        for package in kept:
            owner = libraries.get(owners.first(package))
            if owner is None:
                out.append((package, "", False))
                continue
            is_indexed = bool(package.version) and owner.select(package.version) is not None
            out.append((package, owner.meta.library_id, is_indexed))
        return out

    async def project_packages(self, name: str) -> list[LockedPackage]:
        """The project's locked packages; InvalidInputError names a project never registered."""
        check_length("project", name, MAX_PROJECT_CHARS)
        cached = self._projects.get(name)
        if cached is not None:
            return cached
        stored = await self.store.project(name.strip())
        if stored is None:
            raise InvalidInputError(
                f"no project named {name!r} is registered; register it with POST "
                "/api/v1/admin/projects (its manifests and lockfiles), or leave the project out"
            )
        packages = [LockedPackage(r, n, v) for r, n, v in stored]
        self._projects[name] = packages
        return packages

    async def project_locks(
        self, project: str, locked: Sequence[LockedPackage]
    ) -> list[LockedPackage]:
        """The packages a request's project locks: the registered project's when it names one,
        else the ones it sent (checked as a registration's)."""
        return await self.project_packages(project) if project else check_packages(locked)

    async def project_libraries(self, packages: Sequence[LockedPackage]) -> list[str]:
        """The documented libraries that document a package the project locks, as read for
        the resolution index (fresh as it is), in id order."""
        await self.resolver()
        stored = self._resolved_libraries
        return sorted(
            library_id
            for library_id in self._package_owners.owners(packages)
            if library_id in stored and stored[library_id].versions
        )

    async def locked_versions(
        self, library_ids: Sequence[str], project: str, locked: Sequence[LockedPackage] = ()
    ) -> dict[str, str]:
        """The version the project locks of each documented library among `library_ids`."""
        packages = await self.project_locks(project, locked)
        out: dict[str, str] = {}
        for library_id in library_ids:
            info = await self.library(library_id)
            if info is not None:
                version = locked_version(info.meta, packages)
                if version:
                    out[library_id] = version
        return out


def with_popularity(
    libraries: Sequence[LibraryInfo], entries: Sequence[CatalogEntry]
) -> dict[str, LibraryInfo]:
    """The libraries by id, each with its packages' best catalog rank in any registry, whatever
    their case (as Store.libraries_by_id reads it; 0 when the catalog has none of them)."""
    best: dict[str, int] = {}
    for entry in entries:
        name = entry.name.lower()
        best[name] = min(best.get(name, entry.popularity_rank), entry.popularity_rank)
    out: dict[str, LibraryInfo] = {}
    for info in libraries:
        ranks = [best[n.lower()] for n in info.meta.package_names if n.lower() in best]
        out[info.meta.library_id] = replace(info, popularity_rank=min(ranks, default=0))
    return out


def catalog_info(candidate: Candidate) -> LibraryInfo:
    """A catalog-only package as a library without documentation."""
    # A registry summary is its package owner's text, shown to agents like a description.
    description, _ = clean_description(candidate.description)
    return LibraryInfo(
        meta=LibraryMeta(
            library_id=candidate.library_id,
            title=candidate.title,
            description=description,
            source_type=SOURCE_TYPE_CATALOG,
            package_names=tuple(candidate.names),
            packages=tuple(PackageRef(candidate.registry, name) for name in candidate.names),
        ),
        popularity_rank=candidate.popularity_rank,
    )
