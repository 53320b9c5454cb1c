"""Plain records of libraries and versions shared by the read and write sides."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from twinmcp.search.errors import VersionNotIndexedError
from twinmcp.search.versionrange import best_match, is_partial, is_range

SOURCE_TYPE_CATALOG = 6
# Registry releases named in the refusal of a version not indexed, best first.
MAX_FITTING_RELEASES = 5


@dataclass(frozen=True)
class PackageRef:
    """A package in a registry: ("npm", "hono"); registry "" when the owner named none."""

    registry: str
    name: str


@dataclass(frozen=True)
class LibraryMeta:
    library_id: str
    title: str = ""
    description: str = ""
    source_type: int = 0
    source_url: str = ""
    trust_score: float = 0.0
    stars: int = 0
    package_names: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    # The library's identity as ingest read it: the packages it documents, other names.
    packages: tuple[PackageRef, ...] = ()
    aliases: tuple[str, ...] = ()
    # A registry release's library: its package as a source ("pypi:flask") and the registry's
    # releases, newest first; empty for other sources.
    registry_source: str = ""
    registry_releases: tuple[str, ...] = ()
    # What the documentation says the library is (its README's opening prose): resolution
    # reads it beside the description; never shown.
    about: str = ""

    @property
    def documented_packages(self) -> tuple[PackageRef, ...]:
        """`packages`, or `package_names` without registries for libraries stored before."""
        if self.packages:
            return self.packages
        return tuple(PackageRef("", name) for name in self.package_names)


@dataclass(frozen=True)
class VersionInfo:
    version: str
    build_id: str
    snippet_count: int
    token_count: int
    indexed_at: datetime | None
    is_default: bool
    embedding_model: str
    embedding_dimension: int


@dataclass(frozen=True)
class LibraryInfo:
    meta: LibraryMeta
    versions: list[VersionInfo] = field(default_factory=list)
    default_version: str = ""
    popularity_rank: int = 0
    updated_at: datetime | None = None
    # What its default version's documentation talks about: (description word, share of its
    # snippets using it), computed by search at publish (resolution.doc_term_shares).
    doc_terms: tuple[tuple[str, float], ...] = ()

    @property
    def default(self) -> VersionInfo | None:
        for version in self.versions:
            if version.version == self.default_version:
                return version
        return self.versions[0] if self.versions else None

    def find(self, version: str) -> VersionInfo | None:
        for info in self.versions:
            if info.version == version:
                return info
        # Tags often differ only by a leading "v" ("v2.1.0" vs "2.1.0"): the same version.
        bare = version.lower().removeprefix("v")
        for info in self.versions:
            if info.version.lower().removeprefix("v") == bare:
                return info
        return None

    def select(self, asked: str) -> VersionInfo | None:
        """The version named `asked`, else for a range (`^4.2`, `>=1.4,<2`) or a partial
        version (`4`, `3.0`) the highest indexed version it admits; None when none does."""
        found = self.find(asked)
        if found is not None or not (is_range(asked) or is_partial(asked)):
            return found
        best = best_match(asked, [v.version for v in self.versions])
        return self.find(best) if best is not None else None

    def version_or_raise(self, asked: str, *, is_exact: bool = False) -> VersionInfo:
        """The version `asked` selects (only the one it names when `is_exact`), or the default
        when nothing is asked; else `version_not_indexed`'s refusal. The one place both sides
        decide which indexed version a request means."""
        if not asked:
            chosen = self.default
        elif is_exact:
            chosen = self.find(asked)
        else:
            chosen = self.select(asked)
        if chosen is None:
            raise version_not_indexed(self, asked)
        return chosen


@dataclass(frozen=True)
class CatalogEntry:
    registry: str
    name: str
    popularity_rank: int
    summary: str


def catalog_library_id(registry: str, name: str) -> str:
    """The id a catalog-only package is listed under, e.g. `/pypi/requests`."""
    cleaned = name.lstrip("@").replace("/", "__")
    return f"/{registry}/{cleaned}"


def packages_to_json(packages: tuple[PackageRef, ...]) -> str:
    return json.dumps([[p.registry, p.name] for p in packages])


def packages_from_json(raw: str | None) -> tuple[PackageRef, ...]:
    """Stored `[[registry, name], ...]`; anything else stored there reads as none."""
    try:
        return packages_from_data(json.loads(raw or "[]"))
    except ValueError:
        return ()


def packages_from_data(data: object) -> tuple[PackageRef, ...]:
    if not isinstance(data, list):
        return ()
    return tuple(
        PackageRef(str(item[0]), str(item[1]))
        for item in data
        if isinstance(item, list) and len(item) == 2
    )


def version_not_indexed(info: LibraryInfo, asked: str) -> VersionNotIndexedError:
    """The refusal of `asked`: what is indexed and, for a registry release's library, which
    releases the registry has that fit and the source that ingests the best of them."""
    library_id = info.meta.library_id
    available = [v.version for v in info.versions]
    indexed = ", ".join(available) or "none"
    message = f"version {asked!r} of {library_id} is not indexed; indexed: {indexed}."
    source, releases = info.meta.registry_source, list(info.meta.registry_releases)
    fitting: list[str] = []
    hint = ""
    if source and releases:
        if asked in releases:
            fitting = [asked]
        else:
            remaining = list(releases)
            while len(fitting) < MAX_FITTING_RELEASES:
                best = best_match(asked, remaining)
                if best is None:
                    break
                fitting.append(best)
                remaining.remove(best)
        if fitting:
            separator = "==" if source.startswith("pypi:") else "@"
            hint = f"{source}{separator}{fitting[0]}"
            message += (
                f" {source} has {', '.join(fitting)}; ingest {fitting[0]} with "
                f"`twinmcp ingest {hint}`, or ask for an indexed version"
            )
        else:
            message += (
                f" {source} has no release {asked!r}; its newest are "
                f"{', '.join(releases[:MAX_FITTING_RELEASES])}. Ask for an indexed version"
            )
    else:
        message += " Ask for one of them, or omit the version for the default"
    return VersionNotIndexedError(
        message,
        available,
        library_id=library_id,
        version=asked,
        registry_releases=fitting,
        ingest_source=hint,
    )
