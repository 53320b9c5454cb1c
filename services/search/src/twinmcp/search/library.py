"""Plain records of libraries and versions shared by the read and write sides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SOURCE_TYPE_CATALOG = 6


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
