"""The search service's client, and what a documentation lookup answers: the docs, or what
search said is missing (search.proto states which status means what)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from twinmcp.gateway.clients.base import PeerClient
from twinmcp.gateway.errors import translate
from twinmcp.search.v1 import search_pb2, search_pb2_grpc


@dataclass(frozen=True)
class LibraryUnknown:
    """Search has no documentation of `library_id`; `suggestions` are documented ids close to it."""

    library_id: str
    suggestions: list[str]


@dataclass(frozen=True)
class VersionMissing:
    """`library_id` is indexed but not `version`; search never serves another version instead."""

    library_id: str
    version: str
    available: list[str]
    # For a library ingested from a package registry: the registry's releases that fit the
    # version asked, best first, and the source that ingests the first ("pypi:flask==3.0.3").
    registry_releases: list[str] = field(default_factory=list)
    ingest_source: str = ""

    def ingest_hint(self) -> str:
        """The sentence saying what the registry has and how to ingest it ("" for none)."""
        if not self.ingest_source:
            return ""
        first = self.registry_releases[0] if self.registry_releases else self.ingest_source
        return (
            f"The package registry has {', '.join(self.registry_releases) or first}; "
            f"ingest {first} with `twinmcp ingest {self.ingest_source}`."
        )


# What search answers a documentation lookup: the answer, or what is missing.
DocsLookup = search_pb2.QueryDocsResponse | LibraryUnknown | VersionMissing
# What search answers a question across libraries: the answer, or the version not indexed.
SearchLookup = search_pb2.SearchDocsResponse | VersionMissing


def _missing_docs(
    error: grpc.aio.AioRpcError, library_id: str, version: str
) -> LibraryUnknown | VersionMissing | None:
    """What search's refusal of a lookup says is missing; None for any other refusal.

    `library_id` and `version` (as sent) stand in for the trailing metadata a search service
    older than it left out.
    """
    trailing = {key: value for key, value in error.trailing_metadata() or ()}

    def listed(key: str) -> list[str]:
        value = trailing.get(key, "")
        return [item for item in value.split(",") if item] if isinstance(value, str) else []

    named = trailing.get("library-id")
    library = named if isinstance(named, str) and named else library_id
    if error.code() == grpc.StatusCode.NOT_FOUND:
        return LibraryUnknown(library, listed("suggested-library-ids"))
    if error.code() == grpc.StatusCode.FAILED_PRECONDITION and "available-versions" in trailing:
        asked = trailing.get("requested-version")
        source = trailing.get("ingest-source")
        return VersionMissing(
            library,
            asked if isinstance(asked, str) and asked else version,
            listed("available-versions"),
            listed("registry-releases"),
            source if isinstance(source, str) else "",
        )
    return None


class SearchClient(PeerClient):
    service = "search"
    grpc_service = search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        super().__init__(channel, deadline)
        self.stub = search_pb2_grpc.SearchServiceStub(channel)

    async def resolve_library(
        self,
        library_name: str,
        query: str,
        limit: int = 10,
        project: str = "",
        packages: Sequence[search_pb2.LockedPackage] = (),
    ) -> search_pb2.ResolveLibraryResponse:
        """Matches; with a project (a registered name, or the `packages` it locks) each says
        the version the project locks."""
        request = search_pb2.ResolveLibraryRequest(
            library_name=library_name,
            query=query,
            limit=limit,
            project=project,
            locked_packages=list(packages),
        )
        return await self._call(self.stub.ResolveLibrary, request)

    async def register_project(
        self, name: str, packages: list[search_pb2.LockedPackage]
    ) -> search_pb2.RegisterProjectResponse:
        request = search_pb2.RegisterProjectRequest(name=name, packages=packages)
        return await self._call(self.stub.RegisterProject, request)

    async def get_library(self, library_id: str) -> search_pb2.GetLibraryResponse:
        request = search_pb2.GetLibraryRequest(library_id=library_id)
        return await self._call(self.stub.GetLibrary, request)

    async def list_libraries(
        self, page_size: int, page_token: str = ""
    ) -> search_pb2.ListLibrariesResponse:
        request = search_pb2.ListLibrariesRequest(page_size=page_size, page_token=page_token)
        return await self._call(self.stub.ListLibraries, request)

    async def query_docs(
        self,
        library_id: str,
        query: str,
        tokens: int,
        version: str = "",
        project: str = "",
        packages: Sequence[search_pb2.LockedPackage] = (),
        project_format: str = "",
    ) -> DocsLookup:
        """Search's answer, or what it said is missing: which library and which version is
        search's call alone, so the answer is rendered as it comes. `project` (a registered
        name) or `packages` (the ones a project locks, read from a `project_format` file) ask
        for the version the project locks; the text (within `tokens`) and `project_note` say
        which."""
        request = search_pb2.QueryDocsRequest(
            library_id=library_id,
            query=query,
            tokens=tokens,
            version=version,
            project=project,
            locked_packages=list(packages),
            project_format=project_format,
        )
        try:
            return await self._send(self.stub.QueryDocs, request)
        except grpc.aio.AioRpcError as error:
            missing = _missing_docs(error, library_id, version)
            if missing is None:
                raise translate(self.service, error) from None
            return missing

    async def search_docs(
        self,
        query: str,
        libraries: Sequence[str],
        version: str,
        language: str,
        tokens: int,
        project: str = "",
        packages: Sequence[search_pb2.LockedPackage] = (),
        project_format: str = "",
    ) -> SearchLookup:
        """Search's answer across libraries, its text within `tokens`, or the version it said
        is not indexed; with a project (a registered name, or the packages a lockfile locks and
        the lockfile's format), at its locked versions, which the text names."""
        request = search_pb2.SearchDocsRequest(
            query=query,
            libraries=list(libraries),
            version=version,
            language=language,
            tokens=tokens,
            project=project,
            locked_packages=list(packages),
            project_format=project_format,
        )
        try:
            return await self._send(self.stub.SearchDocs, request)
        except grpc.aio.AioRpcError as error:
            named = libraries[0] if len(libraries) == 1 else ""
            missing = _missing_docs(error, named, version)
            if isinstance(missing, VersionMissing):
                return missing
            raise translate(self.service, error) from None
