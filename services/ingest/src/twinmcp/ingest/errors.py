"""Domain errors of ingest; service.py maps each to a gRPC status code."""

from __future__ import annotations


class IngestError(Exception):
    """Base class; the message is meant for a person and says what to do."""


class InvalidSource(IngestError):
    """The source string or its options cannot be ingested as given."""


class HostileInput(InvalidSource):
    """The source tried something dangerous (bomb, traversal, private network); refused."""


class SourceUnavailable(IngestError):
    """The source could not be fetched right now (network, rate limit); worth retrying."""


class QueueFull(IngestError):
    """Too many jobs are waiting for a worker; the caller should wait for some to finish."""


class JobNotFound(IngestError):
    pass


class LibraryNotFound(IngestError):
    pass


class NotFollowable(IngestError):
    """The library was not ingested from a package registry, so it has no releases to follow
    (FAILED_PRECONDITION, the fallback of IngestError)."""
