"""The MCP tools: their definitions, argument repair, and what calling one answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinmcp.gateway.arguments import (
    MAX_NAME_CHARS,
    MAX_QUERY_CHARS,
    check_text,
    shown,
)
from twinmcp.gateway.clients.search import LibraryUnknown, SearchClient, VersionMissing
from twinmcp.gateway.docsearch import SEARCH_TOOL, SEARCH_TOOL_NAME, search_tool
from twinmcp.gateway.errors import InputError, InvalidArgument
from twinmcp.gateway.lookups import DocsLookups
from twinmcp.gateway.projects import (
    NO_PROJECT,
    PROJECT_SCHEMA,
    Project,
    read_project_off_loop,
)
from twinmcp.gateway.rendering import format_matches

ANNOTATIONS = {
    "readOnlyHint": True,
    "destructiveHint": False,
    "idempotentHint": True,
    # Answers come from this server's own index, not the open web.
    "openWorldHint": False,
}

RESOLVE_DESCRIPTION = """\
Resolves a package or product name to a TwinMCP (Context7-compatible) library ID and lists the \
matching libraries.

You MUST call this tool before 'query-docs' to obtain a valid library ID, UNLESS the user gave \
an ID in the form '/org/project' or '/org/project/version'.

Each result shows:
- Title and Context7-compatible library ID (format /org/project)
- Description
- Packages: the registry packages it documents (e.g. 'npm hono')
- Code Snippets: how much documentation is indexed; 0 means none, so 'query-docs' cannot \
answer from it
- Source Reputation: High, Medium, Low or Unknown
- Versions: indexed versions; if the user names a version, use '/org/project/<version>'
- Source: where the documentation comes from

Pick the best match by name similarity, relevance to the user's goal, snippet count and \
reputation. If several fit equally, say so and continue with the most relevant one; if none \
fits, say so and suggest another name. Do not call this tool more than 3 times per question.

When you can read the user's project, pass 'project' (a lockfile's text, or a registered \
project's name): each result then names the version the project locks."""

QUERY_DESCRIPTION = """\
Answers a question from the up-to-date documentation and code examples of one library, as \
ranked Markdown snippets (title, source link, explanation, code) within a token budget. The \
version served is stated at the top; the library's own usage rules follow when it has any.

Call 'resolve-library-id' first to get the library ID, UNLESS the user gave an ID in the form \
'/org/project' or '/org/project/version'. Ask one specific question per call (good: 'How to add \
CORS middleware in FastAPI'; too vague: 'middleware'); make a separate call per distinct \
concept. Do not call this tool more than 3 times per question. When the library is not \
known, 'search-docs' answers in one call without an ID.

When you can read the user's project, pass 'project' (the text of its lockfile, e.g. uv.lock or \
package-lock.json, or a registered project's name): the answer is then for the exact version \
the project locks, and its second line says so."""

LEGACY_DESCRIPTION = """\
Fetches up-to-date documentation for a library (the earlier name of 'query-docs'; prefer \
'query-docs'). Call 'resolve-library-id' first unless the user gave an ID in the form \
'/org/project'. 'topic' narrows the answer to one subject, e.g. 'routing' or 'hooks'."""

_TOKENS_SCHEMA = {
    "type": "integer",
    "description": (
        "Maximum number of tokens of documentation to return (default 5000; values above "
        "25000 are lowered to 25000 and values below 500 raised to 500)."
    ),
}

TOOLS: list[dict[str, Any]] = [
    {
        "name": "resolve-library-id",
        "title": "Resolve Library ID",
        "description": RESOLVE_DESCRIPTION,
        "inputSchema": {
            "type": "object",
            "properties": {
                "libraryName": {
                    "type": "string",
                    "maxLength": MAX_NAME_CHARS,
                    "description": (
                        "Library name to look up, with its official punctuation: 'Next.js', "
                        "not 'nextjs'."
                    ),
                },
                "query": {
                    "type": "string",
                    "maxLength": MAX_QUERY_CHARS,
                    "description": (
                        "What the user wants to do with the library; used to rank the "
                        "candidates. Never include secrets or private code."
                    ),
                },
                "project": PROJECT_SCHEMA,
            },
            "required": ["libraryName", "query"],
        },
        "annotations": {"title": "Resolve Library ID", **ANNOTATIONS},
    },
    {
        "name": "query-docs",
        "title": "Query Documentation",
        "description": QUERY_DESCRIPTION,
        "inputSchema": {
            "type": "object",
            "properties": {
                "libraryId": {
                    "type": "string",
                    "maxLength": MAX_NAME_CHARS,
                    "description": (
                        "Exact library ID from 'resolve-library-id' or the user, e.g. "
                        "'/fastapi/fastapi' or '/vercel/next.js/v14.3.0'."
                    ),
                },
                "query": {
                    "type": "string",
                    "maxLength": MAX_QUERY_CHARS,
                    "description": (
                        "One specific question about the library, e.g. 'How to add CORS "
                        "middleware'. Never include secrets or private code."
                    ),
                },
                "tokens": _TOKENS_SCHEMA,
                "project": PROJECT_SCHEMA,
            },
            "required": ["libraryId", "query"],
        },
        "annotations": {"title": "Query Documentation", **ANNOTATIONS},
    },
    {
        "name": "get-library-docs",
        "title": "Get Library Docs",
        "description": LEGACY_DESCRIPTION,
        "inputSchema": {
            "type": "object",
            "properties": {
                "context7CompatibleLibraryID": {
                    "type": "string",
                    "maxLength": MAX_NAME_CHARS,
                    "description": "Exact library ID, e.g. '/mongodb/docs'.",
                },
                "topic": {
                    "type": "string",
                    "maxLength": MAX_QUERY_CHARS,
                    "description": "Subject to focus on, e.g. 'routing'.",
                },
                "tokens": _TOKENS_SCHEMA,
            },
            "required": ["context7CompatibleLibraryID"],
        },
        "annotations": {"title": "Get Library Docs", **ANNOTATIONS},
    },
    SEARCH_TOOL,
]

TOOL_NAMES = frozenset(tool["name"] for tool in TOOLS)

# Names agents invent for our arguments, mapped to the canonical ones.
_ALIASES: dict[str, tuple[str, ...]] = {
    "query": ("query", "userQuery", "question", "topic"),
    "library_id": ("libraryId", "libraryID", "library_id", "context7CompatibleLibraryID", "id"),
    "library_name": ("libraryName", "libraryname", "library_name", "name"),
    "tokens": ("tokens", "maxTokens", "max_tokens"),
    "project": ("project", "projectName", "project_name"),
}


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False


@dataclass(frozen=True)
class TokenPolicy:
    default: int = 5000
    minimum: int = 500
    maximum: int = 25000

    def budget(self, raw: object) -> int:
        if raw is None or raw == "":
            return self.default
        if isinstance(raw, bool):
            raise InputError("'tokens' must be a whole number such as 5000.")
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        # isdecimal, not isdigit: int() refuses digits such as '²'; 9 digits: int() of a long
        # string costs time and int32 is the wire type anyway.
        if isinstance(raw, str) and raw.strip().isdecimal() and len(raw.strip()) <= 9:
            raw = int(raw.strip())
        if not isinstance(raw, int):
            raise InputError(
                f"'tokens' must be a whole number such as 5000, not {shown(repr(raw))}."
            )
        return min(max(raw, self.minimum), self.maximum)


def canonical_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments under canonical names; the first alias present wins."""
    found: dict[str, Any] = {}
    for canonical, names in _ALIASES.items():
        for name in names:
            if name in arguments and arguments[name] is not None:
                found[canonical] = arguments[name]
                break
    return found


def _text(arguments: dict[str, Any], key: str, label: str, hint: str) -> str:
    value = arguments.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"Missing '{label}': {hint}")
    if not isinstance(value, str):
        raise InputError(f"'{label}' must be a string, not {type(value).__name__}: {hint}")
    return check_text(label, value).strip()


def _optional_text(arguments: dict[str, Any], key: str, label: str) -> str:
    value = arguments.get(key)
    return check_text(label, value).strip() if isinstance(value, str) else ""


async def _project(arguments: dict[str, Any]) -> Project:
    """The `project` argument read: a registered name, or one lockfile's packages."""
    value = arguments.get("project")
    if value is None:
        return NO_PROJECT
    if not isinstance(value, str):
        raise InputError(
            f"'project' must be a string (a registered project's name or a lockfile's text), "
            f"not {type(value).__name__}."
        )
    return await read_project_off_loop(value)


class Tools:
    """Runs tool calls against the search service (query-docs through the kept answers)."""

    def __init__(self, search: SearchClient, docs: DocsLookups, tokens: TokenPolicy) -> None:
        self.search = search
        self.docs = docs
        self.tokens = tokens

    async def call(self, name: str, raw_arguments: dict[str, Any]) -> ToolResult:
        arguments = canonical_arguments(raw_arguments)
        if name in ("query-docs", "get-library-docs") and "library_id" not in arguments:
            # Agents sometimes put the ID they were given under libraryName.
            guess = raw_arguments.get("libraryName")
            if isinstance(guess, str) and guess.startswith("/"):
                arguments["library_id"] = guess
        try:
            if name == "resolve-library-id":
                return await self._resolve(arguments)
            if name == SEARCH_TOOL_NAME or (name == "query-docs" and "library_id" not in arguments):
                # Without a library ID, query-docs answers across libraries as search-docs does.
                budget = self.tokens.budget(arguments.get("tokens"))
                text, is_error = await search_tool(
                    self.search, {**raw_arguments, **arguments}, budget
                )
                return ToolResult(text, is_error)
            return await self._query(name, arguments)
        except InputError as error:
            # An argument the model can fix: a tool result with isError, not a protocol error.
            return ToolResult(error.message, is_error=True)
        except InvalidArgument as error:
            return ToolResult(f"The request was not accepted: {error.message}", is_error=True)

    async def _resolve(self, arguments: dict[str, Any]) -> ToolResult:
        library_name = _text(
            arguments, "library_name", "libraryName", "give the library's name, e.g. 'fastapi'."
        )
        project = await _project(arguments)
        answer = await self.search.resolve_library(
            library_name,
            _optional_text(arguments, "query", "query"),
            project=project.name,
            packages=project.packages,
        )
        text = format_matches(list(answer.matches))
        if not project.is_given:
            return ToolResult(text)
        locked = [m for m in answer.matches if m.locked_version]
        if locked:
            # Which ID to pass so query-docs answers the project's version (it says it too).
            again = f"project '{project.name}'" if project.name else "the same project"
            text += f"\n\nVersions locked by {project.label}:\n" + "\n".join(
                f"- {m.library.library_id}: {m.locked_version} (query-docs with {again} "
                f"answers for it, or use '{m.library.library_id}/{m.locked_version}')"
                for m in locked
            )
        else:
            text += (
                f"\n\n{project.label[0].upper()}{project.label[1:]} locks none of these "
                "libraries' packages: query-docs answers with their default versions."
            )
        return ToolResult(text)

    async def _query(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        label = "context7CompatibleLibraryID" if name == "get-library-docs" else "libraryId"
        library_id = _text(
            arguments,
            "library_id",
            label,
            "pass an ID like '/fastapi/fastapi' from 'resolve-library-id'.",
        )
        if not library_id.startswith("/"):
            raise InputError(
                f"'{library_id}' is not a library ID. IDs look like '/org/project'; call "
                f"'resolve-library-id' with libraryName='{library_id}' to find it."
            )
        if name == "get-library-docs":
            query = _optional_text(arguments, "query", "topic")
        else:
            query = _text(
                arguments,
                "query",
                "query",
                "ask one specific question, e.g. 'How to add CORS middleware'.",
            )
        budget = self.tokens.budget(arguments.get("tokens"))
        project = await _project(arguments)
        lookup = await self.docs.query_docs(library_id, query, budget, project=project)
        if isinstance(lookup, LibraryUnknown):
            return _library_unknown(lookup)
        if isinstance(lookup, VersionMissing):
            return _version_missing(lookup)
        return ToolResult(lookup.text)


def _library_unknown(missing: LibraryUnknown) -> ToolResult:
    close = (
        f" Indexed libraries with a close name: {', '.join(missing.suggestions)}."
        if missing.suggestions
        else ""
    )
    return ToolResult(
        f"Library '{missing.library_id}' is not indexed.{close} Call 'resolve-library-id' with "
        "the library's name to find a valid ID.",
        is_error=True,
    )


def _version_missing(missing: VersionMissing) -> ToolResult:
    base, available = missing.library_id, missing.available
    listed = ", ".join(available) if available else "none yet"
    example = f" e.g. libraryId '{base}/{available[0]}'" if available else ""
    hint = missing.ingest_hint()
    return ToolResult(
        f"Version '{missing.version}' of {base} is not indexed. Available versions: {listed}. "
        f"Ask for one of those{example}, or use '{base}' for the default version."
        + (f" {hint}" if hint else ""),
        is_error=True,
    )
