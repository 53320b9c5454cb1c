"""Turning search answers into what agents read: library lists, and the JSON forms of answers
whose text search renders."""

from __future__ import annotations

from twinmcp.gateway import schemas
from twinmcp.search.v1 import search_pb2


def reputation_label(trust_score: float) -> str:
    """Context7's coarse label for a 0..10 source reputation."""
    if trust_score < 0:
        return "Unknown"
    if trust_score >= 7:
        return "High"
    if trust_score >= 4:
        return "Medium"
    if trust_score > 0:
        return "Low"
    return "Unknown"


# Registries ingest can fetch a package's documentation from by name (`npm:hono`).
_INGESTIBLE_REGISTRIES = ("pypi", "npm")


def no_documentation_note(library: search_pb2.Library) -> str:
    """What a result without documentation says instead of its size, so that an agent does not
    ask it questions it cannot answer, and a person knows how to fill it."""
    source = next(
        (
            f"{p.registry}:{p.name}"
            for p in library.packages
            if p.registry in _INGESTIBLE_REGISTRIES
        ),
        "<its repository URL or docs folder>",
    )
    return (
        f"no documentation indexed; ingest it with `twinmcp ingest {source}` "
        "(or POST /api/v1/admin/sources), then resolve again"
    )


def is_documented(library: search_pb2.Library) -> bool:
    return library.source_type != search_pb2.SOURCE_TYPE_CATALOG and library.snippet_count > 0


def package_labels(library: search_pb2.Library) -> list[str]:
    """The packages a library documents, "registry name" ("npm hono"), or bare names."""
    if library.packages:
        return [f"{p.registry} {p.name}" if p.registry else p.name for p in library.packages]
    return list(library.package_names)


def format_library(library: search_pb2.Library) -> str:
    lines = [
        f"- Title: {library.title or library.library_id}",
        f"- Context7-compatible library ID: {library.library_id}",
        f"- Description: {library.description or 'No description'}",
    ]
    packages = package_labels(library)
    if packages:
        lines.append(f"- Packages: {', '.join(packages)}")
    if is_documented(library):
        lines.append(f"- Code Snippets: {library.snippet_count} ({library.token_count} tokens)")
    else:
        lines.append(f"- Code Snippets: 0 ({no_documentation_note(library)})")
    lines.append(f"- Source Reputation: {reputation_label(library.trust_score)}")
    versions = [v.version for v in library.versions if v.version]
    if versions:
        lines.append(f"- Versions: {', '.join(versions)}")
    if library.source_url:
        lines.append(f"- Source: {library.source_url}")
    return "\n".join(lines)


def format_matches(matches: list[search_pb2.LibraryMatch]) -> str:
    if not matches:
        return (
            "No documentation libraries found matching your query. Try the official name "
            "with its punctuation (e.g. 'Next.js'), or a package name from PyPI or npm."
        )
    body = "\n----------\n".join(format_library(match.library) for match in matches)
    return f"Available Libraries:\n\n{body}"


def snippet_answer(snippet: search_pb2.Snippet) -> schemas.Snippet:
    return schemas.Snippet(
        kind="code" if snippet.kind == search_pb2.SNIPPET_KIND_CODE else "info",
        title=snippet.title,
        description=snippet.description,
        language=snippet.language,
        content=snippet.content,
        tokens=snippet.tokens,  # search's count of what the text shows of it
        breadcrumb=list(snippet.breadcrumb),
        source=schemas.SnippetSource(
            path=snippet.source_path, url=snippet.source_url, anchor=snippet.anchor
        ),
    )


def context_answer(answer: search_pb2.QueryDocsResponse) -> schemas.Context:
    """The JSON form of an answer: the snippets its text shows (search fitted them into the
    budget, search.proto), in rank order, Context7's arrays too."""
    snippets = [snippet_answer(snippet) for snippet in answer.snippets]
    code = [
        schemas.CodeSnippet(
            codeTitle=s.title,
            codeDescription=s.description,
            codeLanguage=s.language,
            codeTokens=s.tokens,
            codeId=s.source.url or s.source.path,
            pageTitle=" > ".join(s.breadcrumb),
            codeList=[schemas.CodeListItem(language=s.language, code=s.content)],
        )
        for s in snippets
        if s.kind == "code"
    ]
    info = [
        schemas.InfoSnippet(
            pageId=s.source.url or s.source.path,
            breadcrumb=" > ".join(s.breadcrumb) or s.title,
            content=s.content,
            contentTokens=s.tokens,
        )
        for s in snippets
        if s.kind == "info"
    ]
    return schemas.Context(
        libraryId=answer.library_id,
        title=answer.title,
        version=answer.version,
        availableVersions=list(answer.available_versions),
        rules=list(answer.rules),
        withheldSnippets=answer.withheld_snippets,
        tokens=sum(s.tokens for s in snippets),
        snippets=snippets,
        codeSnippets=code,
        infoSnippets=info,
    )


def library_answer(library: search_pb2.Library) -> schemas.Library:
    """One result of /api/v2/libs/search, in Context7's shape (`note` only when undocumented)."""
    is_indexed = is_documented(library)
    return schemas.Library(
        id=library.library_id,
        title=library.title,
        description=library.description,
        branch=library.default_version or "main",
        lastUpdateDate=library.updated_at,
        state="initial" if library.source_type == search_pb2.SOURCE_TYPE_CATALOG else "finalized",
        totalTokens=library.token_count,
        totalSnippets=library.snippet_count,
        stars=library.stars,
        trustScore=library.trust_score,
        versions=[v.version for v in library.versions if v.version],
        source=library.source_url,
        packages=[schemas.PackageRef(registry=p.registry, name=p.name) for p in library.packages],
        aliases=list(library.aliases),
        documented=is_indexed,
        note=None if is_indexed else no_documentation_note(library),
    )
