"""The snippet record the search domain stores, ranks and returns, and its printed token cost."""

from __future__ import annotations

from dataclasses import dataclass

from twinmcp.runtime.tokens import count_tokens

# About what a snippet's markup takes around the fields counted in `SnippetRecord.tokens`:
# heading marks, "Source: " label, code fences with the language tag, blank lines and the
# separator line. Packing charges `tokens + SNIPPET_OVERHEAD_TOKENS` per snippet to choose
# about what the text holds; QueryDocs's rendering (rendering.py) then fits the exact budget,
# header included, so this is an estimate, not a promise to any caller.
SNIPPET_OVERHEAD_TOKENS = 20

KIND_CODE = "code"
KIND_INFO = "info"


@dataclass(frozen=True)
class SnippetRecord:
    """One snippet of a published library version.

    `tokens` counts what is printed of it: title, description, content and source (the URL, or
    the path when there is no URL), each counted on its own.
    """

    snippet_id: str
    kind: str
    title: str
    description: str
    language: str
    content: str
    breadcrumb: tuple[str, ...]
    source_path: str
    source_url: str
    anchor: str
    tokens: int

    @property
    def source(self) -> str:
        return self.source_url or self.source_path

    @property
    def section_key(self) -> str:
        """The page section the snippet comes from (for diversity caps)."""
        return self.source_path + "#" + " > ".join(self.breadcrumb)


def printed_tokens(
    title: str, description: str, content: str, source_url: str, source_path: str
) -> int:
    """The value of `SnippetRecord.tokens` for these fields."""
    return (
        count_tokens(title)
        + count_tokens(description)
        + count_tokens(content)
        + count_tokens(source_url or source_path)
    )


def cost(snippet: SnippetRecord) -> int:
    """What one snippet takes out of a budget."""
    return snippet.tokens + SNIPPET_OVERHEAD_TOKENS
