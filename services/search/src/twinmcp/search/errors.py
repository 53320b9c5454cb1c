"""Errors of the search domain; service.py maps each to one gRPC status code."""

from __future__ import annotations

from collections.abc import Sequence


class SearchError(Exception):
    """Base class: the message says what was wrong and what to do."""


class InvalidInputError(SearchError):
    """The request is malformed (INVALID_ARGUMENT)."""


class NotFoundError(SearchError):
    """The library or build does not exist (NOT_FOUND)."""

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)


class VersionNotIndexedError(SearchError):
    """The library exists but not the asked version (FAILED_PRECONDITION).

    Never answered with another version: the caller picks one of `available_versions`.
    """

    def __init__(self, message: str, available_versions: Sequence[str]) -> None:
        super().__init__(message)
        self.available_versions = list(available_versions)


class ConflictError(SearchError):
    """The operation does not fit the current state, e.g. a build already aborted
    (FAILED_PRECONDITION)."""
