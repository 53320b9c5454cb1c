"""SQL access of the search service: builds and their documents, libraries, catalog entries."""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from twinmcp.search.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StoreUnreadableError,
)
from twinmcp.search.library import (
    CatalogEntry,
    LibraryInfo,
    LibraryMeta,
    VersionInfo,
    packages_from_data,
    packages_from_json,
    packages_to_json,
)
from twinmcp.search.models import (
    BUILD_ABORTED,
    BUILD_OPEN,
    BUILD_PUBLISHED,
    BuildRow,
    CatalogEntryRow,
    DocumentRow,
    LibraryRow,
    ProjectRow,
    SnippetRow,
    StateRow,
    VersionIndexRow,
)
from twinmcp.search.ownertext import clean_meta
from twinmcp.search.ranking import INDEX_FORMAT, VersionIndex
from twinmcp.search.snippets import NewSnippet, SnippetRecord

CATALOG_GENERATION = "catalog_generation"
_TABLES = (
    LibraryRow,
    CatalogEntryRow,
    BuildRow,
    DocumentRow,
    SnippetRow,
    VersionIndexRow,
    StateRow,
)


@dataclass(frozen=True)
class BuildInfo:
    build_id: str
    library_id: str
    version: str
    base_version: str
    state: str
    embedding_model: str
    embedding_dimension: int
    make_default: bool
    meta: LibraryMeta
    snippet_count: int = 0


def now() -> datetime:
    return datetime.now(UTC)


def snippet_key(path: str, ordinal: int) -> str:
    """A snippet's id: stable across builds for the same path and position."""
    return f"{hashlib.sha1(path.encode()).hexdigest()[:12]}-{ordinal}"


def _meta_json(meta: LibraryMeta) -> str:
    return json.dumps(
        {
            "title": meta.title,
            "description": meta.description,
            "source_type": meta.source_type,
            "source_url": meta.source_url,
            "trust_score": meta.trust_score,
            "stars": meta.stars,
            "package_names": list(meta.package_names),
            "rules": list(meta.rules),
            "packages": [[p.registry, p.name] for p in meta.packages],
            "aliases": list(meta.aliases),
            "registry_source": meta.registry_source,
            "registry_releases": list(meta.registry_releases),
            "about": meta.about,
        }
    )


def _meta_from_json(library_id: str, raw: str) -> LibraryMeta:
    data: dict[str, Any] = json.loads(raw or "{}")
    return LibraryMeta(
        library_id=library_id,
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        source_type=int(data.get("source_type", 0)),
        source_url=str(data.get("source_url", "")),
        trust_score=float(data.get("trust_score", 0.0)),
        stars=int(data.get("stars", 0)),
        package_names=tuple(data.get("package_names", ())),
        rules=tuple(data.get("rules", ())),
        packages=packages_from_data(data.get("packages")),
        aliases=tuple(data.get("aliases", ())),
        registry_source=str(data.get("registry_source", "")),
        registry_releases=tuple(str(v) for v in data.get("registry_releases", ())),
        about=str(data.get("about", "")),
    )


def _build_info(row: BuildRow) -> BuildInfo:
    return BuildInfo(
        build_id=row.build_id,
        library_id=row.library_id,
        version=row.version,
        base_version=row.base_version,
        state=row.state,
        embedding_model=row.embedding_model,
        embedding_dimension=row.embedding_dimension,
        make_default=row.make_default,
        meta=_meta_from_json(row.library_id, row.library_metadata),
        snippet_count=row.snippet_count,
    )


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; they were stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Store:
    """Every read and write of the service's tables goes through here."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    # ---- builds -------------------------------------------------------------------------

    async def begin_build(
        self,
        meta: LibraryMeta,
        version: str,
        *,
        base_version: str = "",
        embedding_model: str = "",
        embedding_dimension: int = 0,
        idempotency_key: str = "",
        make_default: bool = False,
    ) -> tuple[BuildInfo, list[str]]:
        """A new open build, or the build already started under `idempotency_key`."""
        if idempotency_key:
            existing = await self._build_by_key(idempotency_key)
            if existing is not None:
                return await self._resumed(existing, meta.library_id, version)
        row = BuildRow(
            build_id=uuid.uuid4().hex,
            library_id=meta.library_id,
            version=version,
            base_version=base_version,
            idempotency_key=idempotency_key or None,
            state=BUILD_OPEN,
            embedding_model=embedding_model,
            embedding_dimension=embedding_dimension,
            make_default=make_default,
            library_metadata=_meta_json(meta),
            snippet_count=0,
            token_count=0,
            created_at=now(),
        )
        try:
            async with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            # Another replica started the same job's build a moment ago: resume that one.
            existing = await self._build_by_key(idempotency_key)
            if existing is None:
                raise
            return await self._resumed(existing, meta.library_id, version)
        return _build_info(row), []

    async def _build_by_key(self, key: str) -> BuildRow | None:
        async with self.sessions() as session:
            return (
                await session.execute(select(BuildRow).where(BuildRow.idempotency_key == key))
            ).scalar_one_or_none()

    async def _resumed(
        self, row: BuildRow, library_id: str, version: str
    ) -> tuple[BuildInfo, list[str]]:
        if row.library_id != library_id or row.version != version:
            raise InvalidInputError(
                f"idempotency_key {row.idempotency_key!r} belongs to the build of "
                f"{row.library_id} {row.version}, not {library_id} {version}; use a new key"
            )
        async with self.sessions() as session:
            paths = (
                await session.execute(
                    select(DocumentRow.path)
                    .where(DocumentRow.build_id == row.build_id)
                    .order_by(DocumentRow.path)
                )
            ).scalars()
            return _build_info(row), list(paths)

    async def build(self, build_id: str) -> BuildInfo:
        async with self.sessions() as session:
            row = await session.get(BuildRow, build_id)
        if row is None:
            raise NotFoundError(f"build {build_id!r} does not exist; start one with BeginBuild")
        return _build_info(row)

    async def open_build(self, build_id: str) -> BuildInfo:
        info = await self.build(build_id)
        if info.state != BUILD_OPEN:
            raise ConflictError(
                f"build {build_id} is {info.state}; documents can only be added to an open "
                "build, start a new one with BeginBuild"
            )
        return info

    async def put_document(
        self,
        build: BuildInfo,
        path: str,
        content_hash: str,
        title: str,
        snippets: Sequence[NewSnippet],
    ) -> list[str]:
        """Replaces the build's document at `path`; returns the snippet ids written."""
        keys: list[str] = []
        async with self.sessions.begin() as session:
            await session.execute(
                delete(DocumentRow).where(
                    DocumentRow.build_id == build.build_id, DocumentRow.path == path
                )
            )
            document = DocumentRow(
                build_id=build.build_id, path=path, content_hash=content_hash, title=title
            )
            session.add(document)
            await session.flush()
            rows = []
            for ordinal, item in enumerate(snippets):
                key = snippet_key(path, ordinal)
                keys.append(key)
                rows.append(_snippet_values(document.id, build.build_id, ordinal, key, item))
            if rows:
                await session.execute(insert(SnippetRow), rows)
        return keys

    async def copy_documents(
        self, build: BuildInfo, base_build_id: str, paths: Sequence[str]
    ) -> tuple[int, int, list[tuple[str, list[float]]]]:
        """Copies documents with their snippets and vectors from a published build."""
        async with self.sessions.begin() as session:
            documents = (
                (
                    await session.execute(
                        select(DocumentRow).where(
                            DocumentRow.build_id == base_build_id, DocumentRow.path.in_(paths)
                        )
                    )
                )
                .scalars()
                .all()
            )
            found = {d.path for d in documents}
            missing = sorted(set(paths) - found)
            if missing:
                raise NotFoundError(
                    f"{len(missing)} path(s) are not in the base version, e.g. {missing[0]!r}; "
                    "put them with PutDocument instead"
                )
            await session.execute(
                delete(DocumentRow).where(
                    DocumentRow.build_id == build.build_id, DocumentRow.path.in_(paths)
                )
            )
            vectors: list[tuple[str, list[float]]] = []
            snippet_total = 0
            for source in documents:
                copy = DocumentRow(
                    build_id=build.build_id,
                    path=source.path,
                    content_hash=source.content_hash,
                    title=source.title,
                )
                session.add(copy)
                await session.flush()
                originals = (
                    (
                        await session.execute(
                            select(SnippetRow)
                            .where(SnippetRow.document_id == source.id)
                            .order_by(SnippetRow.ordinal)
                        )
                    )
                    .scalars()
                    .all()
                )
                rows = []
                for original in originals:
                    values = {
                        c.key: getattr(original, c.key)
                        for c in SnippetRow.__table__.columns
                        if c.key != "id"
                    }
                    values["document_id"] = copy.id
                    values["build_id"] = build.build_id
                    rows.append(values)
                    if original.embedding:
                        vectors.append(
                            (
                                original.snippet_id,
                                np.frombuffer(original.embedding, dtype=np.float32).tolist(),
                            )
                        )
                if rows:
                    await session.execute(insert(SnippetRow), rows)
                snippet_total += len(rows)
        return len(documents), snippet_total, vectors

    async def build_snippets(self, build_id: str) -> tuple[list[SnippetRecord], np.ndarray | None]:
        """Every snippet of a build in document order, with the vector matrix if it has one."""
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(SnippetRow)
                    .join(DocumentRow, SnippetRow.document_id == DocumentRow.id)
                    .where(SnippetRow.build_id == build_id)
                    .order_by(DocumentRow.path, SnippetRow.ordinal)
                )
            ).scalars()
            records: list[SnippetRecord] = []
            vectors: list[np.ndarray] = []
            for row in rows:
                records.append(
                    SnippetRecord(
                        snippet_id=row.snippet_id,
                        kind=row.kind,
                        title=row.title,
                        description=row.description,
                        language=row.language,
                        content=row.content,
                        breadcrumb=tuple(json.loads(row.breadcrumb)),
                        source_path=row.source_path,
                        source_url=row.source_url,
                        anchor=row.anchor,
                        tokens=row.tokens,
                    )
                )
                if row.embedding:
                    vectors.append(np.frombuffer(row.embedding, dtype=np.float32))
        matrix = np.stack(vectors) if vectors and len(vectors) == len(records) else None
        return records, matrix

    async def publish(
        self,
        build: BuildInfo,
        index: VersionIndex,
        doc_terms: Sequence[tuple[str, float]] = (),
    ) -> tuple[int, list[str]]:
        """Makes the build the served one for its version, in one transaction; `doc_terms`
        (resolution.doc_term_shares of its snippets) become the library's when the version is
        its default.

        Returns the snippet count and the ids of the builds it replaced (to clean up vectors).
        """
        snippet_count = len(index.snippets)
        token_count = sum(s.tokens for s in index.snippets)
        blob = index.to_bytes()
        async with self.sessions.begin() as session:
            row = await session.get(BuildRow, build.build_id, with_for_update=True)
            if row is None or row.state != BUILD_OPEN:
                state = row.state if row else "gone"
                raise ConflictError(f"build {build.build_id} is {state}; it cannot be published")
            replaced = list(
                (
                    await session.execute(
                        select(BuildRow.build_id).where(
                            BuildRow.library_id == build.library_id,
                            BuildRow.version == build.version,
                            BuildRow.state == BUILD_PUBLISHED,
                        )
                    )
                ).scalars()
            )
            if replaced:
                await session.execute(delete(BuildRow).where(BuildRow.build_id.in_(replaced)))
            row.state = BUILD_PUBLISHED
            row.published_at = now()
            row.snippet_count = snippet_count
            row.token_count = token_count
            session.add(VersionIndexRow(build_id=build.build_id, format=INDEX_FORMAT, blob=blob))
            library = await session.get(LibraryRow, build.library_id, with_for_update=True)
            meta = build.meta
            if library is None:
                library = LibraryRow(library_id=build.library_id, default_version=build.version)
                session.add(library)
            elif build.make_default or not library.default_version:
                library.default_version = build.version
            library.title = meta.title or library.title or build.library_id.rsplit("/", 1)[-1]
            library.description = meta.description or library.description or ""
            library.about = meta.about or library.about or ""
            library.source_type = meta.source_type or library.source_type or 0
            library.source_url = meta.source_url or library.source_url or ""
            library.trust_score = meta.trust_score or library.trust_score or 0.0
            library.stars = meta.stars or library.stars or 0
            if meta.package_names:
                library.package_names = json.dumps(list(meta.package_names))
            elif library.package_names is None:
                library.package_names = "[]"
            if meta.rules:
                library.rules = json.dumps(list(meta.rules))
            elif library.rules is None:
                library.rules = "[]"
            # A build that read no identity (an older ingest) keeps the library's own.
            if meta.packages or meta.aliases or library.packages is None:
                library.packages = packages_to_json(meta.packages)
                library.aliases = json.dumps(list(meta.aliases))
            # The newest build that knows the registry's release list refreshes it.
            if meta.registry_source or library.registry_releases is None:
                library.registry_source = meta.registry_source
                library.registry_releases = json.dumps(list(meta.registry_releases))
            if library.default_version == build.version:
                library.doc_terms = json.dumps([[term, share] for term, share in doc_terms])
            library.updated_at = now()
            await self._bump(session)
        return snippet_count, replaced

    async def store_index(self, build_id: str, index: VersionIndex) -> None:
        """Rewrites a stored index (after a format change)."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(VersionIndexRow)
                .where(VersionIndexRow.build_id == build_id)
                .values(format=INDEX_FORMAT, blob=index.to_bytes())
            )

    async def load_index_blob(self, build_id: str) -> bytes | None:
        async with self.sessions() as session:
            return (
                await session.execute(
                    select(VersionIndexRow.blob).where(VersionIndexRow.build_id == build_id)
                )
            ).scalar_one_or_none()

    async def abort(self, build_id: str) -> BuildInfo:
        async with self.sessions.begin() as session:
            row = await session.get(BuildRow, build_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"build {build_id!r} does not exist")
            if row.state == BUILD_PUBLISHED:
                raise ConflictError(
                    f"build {build_id} is already published; delete the library or publish a "
                    "new build instead"
                )
            row.state = BUILD_ABORTED
            await session.execute(delete(DocumentRow).where(DocumentRow.build_id == build_id))
            return _build_info(row)

    async def check_readable(self, *, thorough: bool = False) -> None:
        """Reads a row of every table and the served builds' index entries; `thorough` on
        SQLite also checks every page (`PRAGMA quick_check`, a full read: at start only).

        Raises StoreUnreadableError saying what failed.
        """
        try:
            async with self.engine.connect() as connection:
                if thorough and connection.dialect.name == "sqlite":
                    found = list((await connection.execute(text("PRAGMA quick_check"))).scalars())
                    if found != ["ok"]:
                        raise StoreUnreadableError(
                            f"the SQLite file fails its integrity check: {'; '.join(found[:3])}"
                        )
                for table in _TABLES:
                    await connection.execute(select(literal(1)).select_from(table).limit(1))
                await connection.execute(
                    select(BuildRow.build_id, VersionIndexRow.format)
                    .outerjoin(VersionIndexRow, VersionIndexRow.build_id == BuildRow.build_id)
                    .where(BuildRow.state == BUILD_PUBLISHED)
                )
        except (SQLAlchemyError, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreUnreadableError(f"{type(reason).__name__}: {reason}") from exc

    # ---- libraries ----------------------------------------------------------------------

    async def library(self, library_id: str) -> LibraryInfo | None:
        return (await self.libraries_by_id([library_id])).get(library_id)

    async def libraries_by_id(self, library_ids: Sequence[str]) -> dict[str, LibraryInfo]:
        """The stored libraries among `library_ids`, with their catalog popularity, read in
        three statements however many they are."""
        if not library_ids:
            return {}
        async with self.sessions() as session:
            rows = list(
                (
                    await session.execute(
                        select(LibraryRow).where(LibraryRow.library_id.in_(set(library_ids)))
                    )
                ).scalars()
            )
            if not rows:
                return {}
            builds = await _published_builds(session, [r.library_id for r in rows])
            names = {r.library_id: json.loads(r.package_names or "[]") for r in rows}
            ranks = await _popularity(session, {n.lower() for ns in names.values() for n in ns})
            out: dict[str, LibraryInfo] = {}
            for row in rows:
                found = [ranks[n.lower()] for n in names[row.library_id] if n.lower() in ranks]
                popularity = min(found, default=0)
                out[row.library_id] = _library_info(row, builds.get(row.library_id, []), popularity)
            return out

    async def libraries(
        self, after: str, limit: int, *, with_doc_terms: bool = False
    ) -> list[LibraryInfo]:
        async with self.sessions() as session:
            rows = list(
                (
                    await session.execute(
                        select(LibraryRow)
                        .where(LibraryRow.library_id > after)
                        .order_by(LibraryRow.library_id)
                        .limit(limit)
                    )
                ).scalars()
            )
            if not rows:
                return []
            builds = await _published_builds(session, [r.library_id for r in rows])
            return [
                _library_info(row, builds.get(row.library_id, []), 0, with_doc_terms)
                for row in rows
            ]

    async def save_project(self, name: str, packages: Sequence[tuple[str, str, str]]) -> None:
        """Registers or replaces the project `name` with its (registry, name, version)s."""
        async with self.sessions.begin() as session:
            row = await session.get(ProjectRow, name, with_for_update=True)
            if row is None:
                row = ProjectRow(name=name)
                session.add(row)
            row.packages = json.dumps([list(p) for p in packages])
            row.updated_at = now()

    async def project(self, name: str) -> list[tuple[str, str, str]] | None:
        async with self.sessions() as session:
            row = await session.get(ProjectRow, name)
        if row is None:
            return None
        return [(str(r), str(n), str(v)) for r, n, v in json.loads(row.packages or "[]")]

    async def all_libraries(self, *, with_doc_terms: bool = False) -> list[LibraryInfo]:
        """Every library; with `with_doc_terms`, what their documentation talks about too (for
        resolution: about 20 KB a library, so other reads leave it out)."""
        infos: list[LibraryInfo] = []
        after = ""
        while True:
            page = await self.libraries(after, 1000, with_doc_terms=with_doc_terms)
            infos.extend(page)
            if len(page) < 1000:
                return infos
            after = page[-1].meta.library_id

    async def delete_library(self, library_id: str) -> list[str]:
        """Removes the library and all its builds; returns the removed build ids."""
        async with self.sessions.begin() as session:
            library = await session.get(LibraryRow, library_id)
            builds = list(
                (
                    await session.execute(
                        select(BuildRow.build_id).where(BuildRow.library_id == library_id)
                    )
                ).scalars()
            )
            if library is None and not builds:
                raise NotFoundError(f"library {library_id} does not exist; nothing was deleted")
            await session.execute(delete(BuildRow).where(BuildRow.library_id == library_id))
            if library is not None:
                await session.delete(library)
            await self._bump(session)
        return builds

    async def version_or_raise(
        self, library_id: str, version: str
    ) -> tuple[LibraryInfo, VersionInfo]:
        """The library and the version named `version` (the default for ""), exactly: a
        build's base or a version to re-ingest is never a range."""
        info = await self.library(library_id)
        if info is None:
            raise NotFoundError(f"library {library_id} has no published documentation")
        return info, info.version_or_raise(version, is_exact=True)

    # ---- catalog ------------------------------------------------------------------------

    async def import_catalog(self, entries: Sequence[CatalogEntry]) -> int:
        dialect = self.engine.dialect.name
        rows = [
            {
                "registry": e.registry,
                "name": e.name,
                "popularity_rank": e.popularity_rank,
                "summary": e.summary,
            }
            for e in entries
        ]
        async with self.sessions.begin() as session:
            for start in range(0, len(rows), 2000):
                chunk = rows[start : start + 2000]
                table = cast(Table, CatalogEntryRow.__table__)
                upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
                statement = upsert.values(chunk).on_conflict_do_update(
                    index_elements=["registry", "name"],
                    set_={
                        "popularity_rank": upsert.excluded.popularity_rank,
                        "summary": upsert.excluded.summary,
                    },
                )
                await session.execute(statement)
            await self._bump(session)
        return len(rows)

    async def catalog_entries(self) -> list[CatalogEntry]:
        async with self.sessions() as session:
            result = await session.execute(
                select(
                    CatalogEntryRow.registry_name,
                    CatalogEntryRow.name,
                    CatalogEntryRow.popularity_rank,
                    CatalogEntryRow.summary,
                )
            )
            return [CatalogEntry(r[0], r[1], int(r[2]), r[3]) for r in result]

    async def generation(self) -> int:
        async with self.sessions() as session:
            value = await session.get(StateRow, CATALOG_GENERATION)
            return int(value.value) if value else 0

    async def _bump(self, session: AsyncSession) -> None:
        state = await session.get(StateRow, CATALOG_GENERATION, with_for_update=True)
        if state is None:
            session.add(StateRow(name=CATALOG_GENERATION, value=1))
        else:
            state.value += 1

    async def hashes(self, build_id: str) -> list[tuple[str, str]]:
        async with self.sessions() as session:
            result = await session.execute(
                select(DocumentRow.path, DocumentRow.content_hash)
                .where(DocumentRow.build_id == build_id)
                .order_by(DocumentRow.path)
            )
            return [(r[0], r[1]) for r in result]


def _snippet_values(
    document_id: int, build_id: str, ordinal: int, key: str, item: NewSnippet
) -> dict[str, Any]:
    record = item.record
    embedding = (
        np.asarray(item.embedding, dtype=np.float32).tobytes() if len(item.embedding) else None
    )
    return {
        "document_id": document_id,
        "build_id": build_id,
        "ordinal": ordinal,
        "snippet_id": key,
        "kind": record.kind,
        "title": record.title,
        "description": record.description,
        "language": record.language,
        "content": record.content,
        "breadcrumb": json.dumps(list(record.breadcrumb)),
        "source_path": record.source_path,
        "source_url": record.source_url,
        "anchor": record.anchor,
        "tokens": record.tokens,
        "embedding": embedding,
    }


async def _published_builds(
    session: AsyncSession, library_ids: Sequence[str]
) -> dict[str, list[BuildRow]]:
    """The published builds of each of these libraries."""
    builds = (
        await session.execute(
            select(BuildRow).where(
                BuildRow.library_id.in_(library_ids), BuildRow.state == BUILD_PUBLISHED
            )
        )
    ).scalars()
    by_library: dict[str, list[BuildRow]] = {}
    for build in builds:
        by_library.setdefault(build.library_id, []).append(build)
    return by_library


async def _popularity(session: AsyncSession, names: set[str]) -> dict[str, int]:
    """The best catalog popularity rank of each lower-cased package name the catalog has."""
    if not names:
        return {}
    lowered = func.lower(CatalogEntryRow.name)
    rows = await session.execute(
        select(lowered, func.min(CatalogEntryRow.popularity_rank))
        .where(lowered.in_(names))
        .group_by(lowered)
    )
    return {name: int(rank) for name, rank in rows.all()}


def _library_info(
    library: LibraryRow, builds: list[BuildRow], popularity: int, with_doc_terms: bool = False
) -> LibraryInfo:
    versions = sorted(
        (
            VersionInfo(
                version=b.version,
                build_id=b.build_id,
                snippet_count=b.snippet_count,
                token_count=b.token_count,
                indexed_at=_aware(b.published_at),
                is_default=b.version == library.default_version,
                embedding_model=b.embedding_model,
                embedding_dimension=b.embedding_dimension,
            )
            for b in builds
        ),
        key=lambda v: (not v.is_default, v.version),
    )
    stored = LibraryMeta(
        library_id=library.library_id,
        title=library.title,
        description=library.description,
        source_type=library.source_type,
        source_url=library.source_url,
        trust_score=library.trust_score,
        stars=library.stars,
        package_names=tuple(json.loads(library.package_names or "[]")),
        rules=tuple(json.loads(library.rules or "[]")),
        packages=packages_from_json(library.packages),
        aliases=tuple(json.loads(library.aliases or "[]")),
        registry_source=library.registry_source or "",
        registry_releases=tuple(json.loads(library.registry_releases or "[]")),
        about=library.about or "",
    )
    # Cleaned on every read too: libraries stored before the caps may hold anything.
    meta, _ = clean_meta(stored)
    # Words repeat from library to library: interned, a thousand libraries' hold a third less.
    doc_terms = (
        tuple(
            (sys.intern(str(term)), float(share))
            for term, share in json.loads(library.doc_terms or "[]")
        )
        if with_doc_terms
        else ()
    )
    return LibraryInfo(
        meta=meta,
        versions=versions,
        default_version=library.default_version,
        popularity_rank=popularity,
        updated_at=_aware(library.updated_at),
        doc_terms=doc_terms,
    )
