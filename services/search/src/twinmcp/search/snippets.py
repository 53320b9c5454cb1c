"""The snippet record the search domain stores, ranks and returns, and its printed token cost."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import orjson
from twinmcp.tokens import count_tokens

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

    def to_row(self) -> list[Any]:
        """The record as one JSON array: how index blobs and cached answers hold it."""
        return [
            self.snippet_id, self.kind, self.title, self.description, self.language, self.content,
            list(self.breadcrumb), self.source_path, self.source_url, self.anchor, self.tokens,
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SnippetRecord:
        """The record `to_row` gave, read back from JSON."""
        return cls(
            row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6]), row[7], row[8], row[9],
            row[10],
        )  # fmt: skip

    @property
    def section_key(self) -> str:
        """The page section the snippet comes from (for diversity caps)."""
        return self.source_path + "#" + " > ".join(self.breadcrumb)


@dataclass(frozen=True)
class NewSnippet:
    """A snippet to store in a build, with its vector (empty in a build without vectors)."""

    record: SnippetRecord
    embedding: Sequence[float]


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


class SnippetTable(Sequence[SnippetRecord]):
    """A version's snippets in one buffer of JSON arrays, each decoded when it is read.

    A loaded index holds two allocations instead of about ten Python objects per snippet.
    Measured on a 5,000-snippet index (tracemalloc): 10.5 MB loaded as records, 7.4 MB with
    this table (3.4 MB of it the snippets), and the load's peak fell from 51 MB to 11 MB.
    Ranking decodes only its candidates (a hundred or so per query).
    """

    __slots__ = ("_data", "_offsets")

    def __init__(self, data: bytes, offsets: npt.NDArray[np.int64]) -> None:
        if len(offsets) < 1 or int(offsets[-1]) != len(data):
            raise ValueError("snippet offsets do not match the snippet data")
        self._data = data
        self._offsets = offsets

    @classmethod
    def pack(cls, snippets: Iterable[SnippetRecord]) -> SnippetTable:
        parts = [orjson.dumps(s.to_row()) for s in snippets]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        return cls(b"".join(parts), offsets)

    @property
    def data(self) -> bytes:
        return self._data

    @property
    def offsets(self) -> npt.NDArray[np.int64]:
        return self._offsets

    @property
    def nbytes(self) -> int:
        return len(self._data) + self._offsets.nbytes

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, position: int) -> SnippetRecord: ...

    @overload
    def __getitem__(self, position: slice) -> list[SnippetRecord]: ...

    def __getitem__(self, position: int | slice) -> SnippetRecord | list[SnippetRecord]:
        if isinstance(position, slice):
            return [self._record(i) for i in range(*position.indices(len(self)))]
        count = len(self)
        if position < 0:
            position += count
        if not 0 <= position < count:
            raise IndexError(f"snippet {position} of {count}")
        return self._record(position)

    def __iter__(self) -> Iterator[SnippetRecord]:
        for position in range(len(self)):
            yield self._record(position)

    def _record(self, position: int) -> SnippetRecord:
        start, end = int(self._offsets[position]), int(self._offsets[position + 1])
        return SnippetRecord.from_row(orjson.loads(self._data[start:end]))
