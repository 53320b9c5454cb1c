"""The search service's tables: libraries, catalog entries, builds, documents, snippets, indexes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

BUILD_OPEN = "open"
BUILD_PUBLISHED = "published"
BUILD_ABORTED = "aborted"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class LibraryRow(Base):
    """A documented library (it has at least one published version)."""

    __tablename__ = "search_libraries"

    library_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    source_type: Mapped[int] = mapped_column(Integer, default=0)
    source_url: Mapped[str] = mapped_column(Text, default="")
    trust_score: Mapped[float] = mapped_column(Float, default=0.0)
    stars: Mapped[int] = mapped_column(BigInteger, default=0)
    package_names: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    rules: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    packages: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[registry, name], ...]
    aliases: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    registry_source: Mapped[str] = mapped_column(String(300), default="")  # "pypi:flask"
    registry_releases: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, newest first
    about: Mapped[str] = mapped_column(Text, default="")  # the README's opening prose
    # JSON [[word, share], ...]: what the default version's documentation talks about.
    doc_terms: Mapped[str] = mapped_column(Text, default="[]")
    default_version: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CatalogEntryRow(Base):
    """A package from a registry's catalog; resolution offers it even without documentation."""

    __tablename__ = "search_catalog_entries"
    __table_args__ = (
        UniqueConstraint("registry", "name"),
        # Store._popularity reads entries by lower-cased name (migration 0005).
        Index("ix_search_catalog_entries_lower_name", func.lower(text("name"))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registry_name: Mapped[str] = mapped_column("registry", String(40))
    name: Mapped[str] = mapped_column(String(300))
    popularity_rank: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[str] = mapped_column(Text, default="")


class BuildRow(Base):
    """One attempt at indexing a library version; readers only ever see `published` builds."""

    __tablename__ = "search_builds"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_search_builds_library_state", "library_id", "state"),
    )

    build_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    library_id: Mapped[str] = mapped_column(String(400))
    version: Mapped[str] = mapped_column(String(200))
    base_version: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=BUILD_OPEN)
    embedding_model: Mapped[str] = mapped_column(String(200), default="")
    embedding_dimension: Mapped[int] = mapped_column(Integer, default=0)
    make_default: Mapped[bool] = mapped_column(Boolean, default=False)
    library_metadata: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    snippet_count: Mapped[int] = mapped_column(BigInteger, default=0)
    token_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DocumentRow(Base):
    __tablename__ = "search_documents"
    __table_args__ = (UniqueConstraint("build_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    build_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("search_builds.build_id", ondelete="CASCADE")
    )
    path: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(Text, default="")


class SnippetRow(Base):
    __tablename__ = "search_snippets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("search_documents.id", ondelete="CASCADE"), index=True
    )
    build_id: Mapped[str] = mapped_column(String(40), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    snippet_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(50), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    breadcrumb: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    source_path: Mapped[str] = mapped_column(String(1000), default="")
    source_url: Mapped[str] = mapped_column(Text, default="")
    anchor: Mapped[str] = mapped_column(String(300), default="")
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # float32


class VersionIndexRow(Base):
    """The serialised in-memory index of a published build (see ranking.VersionIndex)."""

    __tablename__ = "search_version_indexes"

    build_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("search_builds.build_id", ondelete="CASCADE"), primary_key=True
    )
    format: Mapped[int] = mapped_column(Integer)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class StateRow(Base):
    """Counters replicas poll to notice catalog changes made by another replica."""

    __tablename__ = "search_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ProjectRow(Base):
    """A project's locked packages, registered by name (RegisterProject)."""

    __tablename__ = "search_projects"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    packages: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[registry, name, version]]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
