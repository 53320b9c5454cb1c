"""Stored forms: a version index blob (one of another format is rebuilt) and a cached answer."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
from sqlalchemy import select, update
from twinmcp.database import create_engine, migrate
from twinmcp.search.answering import Answer, ScoredSnippet
from twinmcp.search.cache import MemoryCache
from twinmcp.search.domain import SearchDomain
from twinmcp.search.library import LibraryMeta
from twinmcp.search.models import VersionIndexRow
from twinmcp.search.ranking import INDEX_FORMAT
from twinmcp.search.server import MIGRATIONS, VERSION_TABLE
from twinmcp.search.snippets import NewSnippet, SnippetRecord, SnippetTable
from twinmcp.search.store import Store
from twinmcp.search.vectors import LocalVectorStore


def _section(path: str, text: str) -> NewSnippet:
    """A page of one prose snippet, as ingest sends it: the builder sets its id and tokens."""
    record = SnippetRecord(
        snippet_id="",
        kind="info",
        title=path,
        description="",
        language="",
        content=text,
        breadcrumb=(path,),
        source_path=path,
        source_url="",
        anchor="",
        tokens=0,
    )
    return NewSnippet(record, [])


def _arrays(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _header(arrays: dict[str, np.ndarray]) -> dict[str, object]:
    header: dict[str, object] = orjson.loads(arrays["header"].tobytes())
    return header


def _format_6(blob: bytes) -> bytes:
    """The blob as format 6 wrote it: the same arrays plus one section number per snippet."""
    arrays = _arrays(blob)
    header = _header(arrays) | {"format": 6}
    arrays["header"] = np.frombuffer(orjson.dumps(header), dtype=np.uint8)
    arrays["section_of"] = np.zeros(len(arrays["snippet_offsets"]) - 1, dtype=np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


async def test_an_index_stored_by_format_6_is_rebuilt_from_its_rows_and_stored_again(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    writer = SearchDomain(Store(engine), LocalVectorStore(), MemoryCache(), None)
    try:
        build_id, _ = await writer.builder.begin_build(
            LibraryMeta("/acme/webkit"), "1.0", make_default=True
        )
        texts = {
            "docs/cors.md": "allow browser origins with CORSMiddleware",
            "docs/tasks.md": "send email after the response with BackgroundTasks",
        }
        for path, text in texts.items():
            await writer.builder.put_document(
                build_id,
                path,
                "h",
                path,
                [_section(path, text)],
            )
        await writer.builder.publish(build_id)
        stored = await writer.store.load_index_blob(build_id)
        assert stored is not None
        assert "section_of" not in _arrays(stored)  # stored but never read: gone in format 7
        async with writer.store.sessions.begin() as session:
            await session.execute(
                update(VersionIndexRow)
                .where(VersionIndexRow.build_id == build_id)
                .values(format=6, blob=_format_6(stored))
            )

        reader = SearchDomain(Store(engine), LocalVectorStore(), MemoryCache(), None)
        answer = await reader.answerer.query_docs(
            "/acme/webkit", "", "email after the response", 2000
        )
        assert answer.snippets[0].snippet.source_path == "docs/tasks.md"
        async with reader.store.sessions() as session:
            row = (
                await session.execute(
                    select(VersionIndexRow).where(VersionIndexRow.build_id == build_id)
                )
            ).scalar_one()
        assert row.format == INDEX_FORMAT
        rebuilt = _arrays(row.blob)
        assert _header(rebuilt)["format"] == INDEX_FORMAT
        assert "section_of" not in rebuilt
    finally:
        await engine.dispose()


def test_a_cached_answer_reads_back_as_the_answer_that_was_stored() -> None:
    snippet = SnippetRecord(
        "s1", "code", "CORS", "Allow origins", "python", "app.add(CORS)", ("Guide", "CORS"),
        "docs/cors.md", "https://acme.dev/cors", "cors", 12,
    )  # fmt: skip
    answer = Answer(
        library_id="/acme/webkit",
        version="1.0",
        title="Webkit",
        rules=["Use the factory"],
        snippets=[ScoredSnippet(snippet, 0.75)],
        tokens_used=40,
        available_versions=["1.0", "0.9"],
        build_id="b1",
        withheld_snippets=1,
        text="# Webkit\n...",
    )
    restored = Answer.from_bytes(answer.to_bytes())
    assert restored == replace(answer, is_cached=True)
    # A cached answer's snippet row is the index's row with the score in front.
    row = orjson.loads(answer.to_bytes())["snippets"][0]
    assert row == [0.75, *orjson.loads(SnippetTable.pack([snippet]).data)]
