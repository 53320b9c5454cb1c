"""query-docs lookups: search's answer, or the one kept at the edge while search vouches for it."""

from __future__ import annotations

from twinmcp.gateway.answers import EdgeAnswers
from twinmcp.gateway.clients.search import DocsLookup, SearchClient
from twinmcp.gateway.projects import NO_PROJECT, Project
from twinmcp.search.v1 import search_pb2


class DocsLookups:
    """Looks documentation up in search through the edge answer store (answers.py): MCP tools,
    REST and the dashboard ask here, so all three are served from the same kept answers."""

    def __init__(self, search: SearchClient, answers: EdgeAnswers) -> None:
        self.search = search
        self.answers = answers

    async def query_docs(
        self,
        library_id: str,
        query: str,
        tokens: int,
        version: str = "",
        project: Project = NO_PROJECT,
    ) -> DocsLookup:
        """As `SearchClient.query_docs`; only answers are kept, never what was missing."""
        # The project is part of the question: the same library may be answered at another
        # version for it ("\x00" is in no version name).
        key = self.answers.key(
            library_id,
            f"{version}\x00{project.key}" if project.is_given else version,
            query,
            tokens,
        )
        kept = self.answers.get(key)
        if kept is not None:
            return kept
        stamp = self.answers.stamp()
        lookup = await self.search.query_docs(
            library_id, query, tokens, version, project.name, project.packages, project.file_format
        )
        if isinstance(lookup, search_pb2.QueryDocsResponse):
            self.answers.put(key, stamp, lookup)
        return lookup
