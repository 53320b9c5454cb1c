"""Errors of the search domain; service.py maps each to one gRPC status code."""

from __future__ import annotations

from collections.abc import Sequence


class SearchError(Exception):
    """Base class: the message says what was wrong and what to do."""


class InvalidInputError(SearchError):
    """The request is malformed (INVALID_ARGUMENT)."""


class NotFoundError(SearchError):
    """The library or build does not exist (NOT_FOUND).

    For a library, `library_id` is its canonical id and `suggestions` the documented ids
    closest to it; both go to the caller as trailing metadata (search.proto).
    """

    def __init__(self, message: str, suggestions: Sequence[str] = (), library_id: str = "") -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)
        self.library_id = library_id


class VersionNotIndexedError(SearchError):
    """The library exists but not the asked version (FAILED_PRECONDITION).

    Never answered with another version: the caller picks one of `available_versions`.
    `library_id` (canonical) and `version` (as asked) say what was missing.
    """

    def __init__(
        self,
        message: str,
        available_versions: Sequence[str],
        library_id: str = "",
        version: str = "",
        registry_releases: Sequence[str] = (),
        ingest_source: str = "",
    ) -> None:
        super().__init__(message)
        self.available_versions = list(available_versions)
        self.library_id = library_id
        self.version = version
        # For a registry release's library: the registry's releases that fit what was asked,
        # best first, and the source that ingests the first ("pypi:flask==3.0.3").
        self.registry_releases = list(registry_releases)
        self.ingest_source = ingest_source


class ConflictError(SearchError):
    """The operation does not fit the current state, e.g. a build already aborted
    (FAILED_PRECONDITION)."""


class StoreUnreadableError(SearchError):
    """The database cannot be read (corrupted, gone, refusing connections): health is
    NOT_SERVING while it lasts."""
