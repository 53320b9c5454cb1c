"""Documentation search across libraries at the edge: the SearchDocs call, its JSON form, and
the search-docs tool; the text, fitted into the budget, is search's (SearchDocsResponse.text)."""

from __future__ import annotations

from typing import Any

from twinmcp.gateway import schemas
from twinmcp.gateway.arguments import (
    MAX_LANGUAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_QUERY_CHARS,
    check_text,
    shown,
)
from twinmcp.gateway.clients.search import SearchClient, VersionMissing
from twinmcp.gateway.errors import InputError
from twinmcp.gateway.projects import (
    NO_PROJECT,
    PROJECT_SCHEMA,
    Project,
    read_project_off_loop,
)
from twinmcp.gateway.rendering import snippet_answer
from twinmcp.search.v1 import search_pb2

# Search's own limit on hints: a question is about a few libraries, not a catalog.
MAX_LIBRARIES = 4

SEARCH_TOOL_NAME = "search-docs"
SEARCH_DESCRIPTION = """\
Answers a programming question from the up-to-date documentation and code examples of the \
indexed libraries in ONE call, without a library ID: the libraries are chosen from the question \
(a library it names, or whose documentation covers it best), among the dependencies of the \
'project' when it is given, or from up to 4 given in 'libraries'. Returns ranked Markdown \
snippets within a token budget; each names its library ID and version, so you can follow up \
with 'query-docs' on one library.

Use it when the user has not named a library, asks which library does something, or the \
question spans several libraries; name the libraries you already know in 'libraries' (IDs such \
as '/fastapi/fastapi' or names such as 'fastapi'). Ask one specific question per call. Do not \
call this tool more than 3 times per question."""

SEARCH_TOOL: dict[str, Any] = {
    "name": SEARCH_TOOL_NAME,
    "title": "Search Documentation",
    "description": SEARCH_DESCRIPTION,
    "inputSchema": {
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "maxLength": MAX_QUERY_CHARS,
                "description": (
                    "One specific question, e.g. 'How to retry failed HTTP requests with a "
                    "timeout'. Quote the API names you already know (request.remote_addr, "
                    "EventSource): they point the search at the libraries that define them. "
                    "Never include secrets or private code."
                ),
            },
            "libraries": {
                "type": "array",
                "maxItems": MAX_LIBRARIES,
                "items": {"type": "string", "maxLength": MAX_NAME_CHARS},
                "description": (
                    "Optional: up to 4 library IDs ('/org/project') or names ('fastapi') the "
                    "answer should come from. Omit to let the server choose."
                ),
            },
            "version": {
                "type": "string",
                "maxLength": MAX_NAME_CHARS,
                "description": "Optional: a version, only when exactly one library is given.",
            },
            "language": {
                "type": "string",
                "maxLength": MAX_LANGUAGE_CHARS,
                "description": (
                    "Optional: keep code examples in this language only, e.g. 'python', "
                    "'typescript', 'go', 'rust'."
                ),
            },
            "project": PROJECT_SCHEMA,
            "tokens": {
                "type": "integer",
                "description": (
                    "Maximum number of tokens of documentation to return (default 5000; values "
                    "above 25000 are lowered to 25000 and values below 500 raised to 500)."
                ),
            },
        },
        "required": ["query"],
    },
    "annotations": {
        "title": "Search Documentation",
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    },
}


def parse_libraries(raw: object) -> list[str]:
    """The hinted libraries: a list, or one comma-separated string; blanks dropped."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        items: list[object] = list(raw.split(","))
    elif isinstance(raw, list):
        items = list(raw)
    else:
        raise InputError(
            "'libraries' must be a list of library IDs or names, e.g. ['/fastapi/fastapi']"
        )
    hints: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InputError(
                f"'libraries' must hold strings (library IDs or names), not {shown(repr(item))}"
            )
        if item.strip():
            hints.append(check_text("libraries", item).strip())
    if len(hints) > MAX_LIBRARIES:
        raise InputError(
            f"'libraries' names {len(hints)} libraries; the limit is {MAX_LIBRARIES}. Name the "
            "few the question is about, or none to let the server choose."
        )
    return hints


def search_answer(
    answer: search_pb2.SearchDocsResponse, project: Project = NO_PROJECT
) -> schemas.DocsSearch:
    """The JSON form: the hits search's text shows (it fitted them into the budget,
    search.proto), in rank order, each with its library and version; with a project, each
    library says the version it locks (`lockedVersion`)."""
    hits = [
        schemas.SearchedSnippet(
            **dict(snippet_answer(hit.snippet)),
            libraryId=hit.library_id,
            version=hit.version,
            score=round(hit.snippet.score, 4),
        )
        for hit in answer.hits
    ]
    return schemas.DocsSearch(
        libraries=[
            schemas.SearchedLibrary(
                id=lib.library_id,
                title=lib.title,
                version=lib.version,
                relevance=round(lib.relevance, 4),
                reason=lib.reason,
                availableVersions=list(lib.available_versions),
                rules=list(lib.rules),
                lockedVersion=lib.locked_version if project.is_given else None,
            )
            for lib in answer.libraries
        ],
        withheldSnippets=answer.withheld_snippets,
        tokens=sum(hit.tokens for hit in hits),
        snippets=hits,
    )


async def search_tool(
    client: SearchClient, arguments: dict[str, Any], budget: int
) -> tuple[str, bool]:
    """What the search-docs tool (and query-docs without a library ID) answers: text, is_error."""
    try:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InputError(
                "Missing 'query': ask one specific question, e.g. 'How to add CORS middleware'."
            )
        query = check_text("query", query).strip()
        hints = parse_libraries(arguments.get("libraries"))
        if not hints:
            # query-docs callers put a library name where the ID goes.
            named = arguments.get("library_name")
            if isinstance(named, str) and named.strip():
                hints = [check_text("libraryName", named).strip()]
        version = _optional(arguments, "version")
        language = _optional(arguments, "language")
        project = await read_project_off_loop(_optional_raw(arguments, "project"))
    except InputError as error:
        return str(error), True
    lookup = await client.search_docs(
        query, hints, version, language, budget, project.name, project.packages, project.file_format
    )
    if isinstance(lookup, VersionMissing):
        listed = ", ".join(lookup.available) or "none yet"
        return (
            f"Version '{lookup.version}' of {lookup.library_id} is not indexed. Available "
            f"versions: {listed}. Ask for one of those, or leave 'version' out for the default.",
            True,
        )
    return lookup.text, False


def _optional_raw(arguments: dict[str, Any], key: str) -> str:
    """A string argument as sent (a lockfile's text keeps its layout), "" when absent."""
    value = arguments.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"'{key}' must be a string, not {type(value).__name__}")
    return value


def _optional(arguments: dict[str, Any], key: str) -> str:
    return check_text(key, _optional_raw(arguments, key)).strip()
