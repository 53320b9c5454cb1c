"""Source classification, library ids, and llms.txt / llms-full.txt sources."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twinmcp.ingest.errors import InvalidSource
from twinmcp.ingest.fetching.web import split_full_text
from twinmcp.ingest.sources import SourceKind, parse_source
from twinmcp.ingest.v1 import ingest_pb2


def test_source_strings_are_classified_with_derived_library_ids(tmp_path: Path) -> None:
    gh = parse_source("https://github.com/fastapi/fastapi/tree/0.115.0")
    assert (gh.kind, gh.library_id, gh.ref) == (SourceKind.GITHUB, "/fastapi/fastapi", "0.115.0")
    git = parse_source("https://gitlab.com/group/proj.git")
    assert (git.kind, git.library_id) == (SourceKind.GIT, "/group/proj")
    site = parse_source("https://docs.example.com/guide/")
    assert (site.kind, site.library_id) == (SourceKind.WEBSITE, "/websites/docs-example-com-guide")
    llms = parse_source("https://example.com/llms.txt")
    assert (llms.kind, llms.library_id) == (SourceKind.LLMSTXT, "/llmstxt/example-com")
    archive = tmp_path / "docs.tgz"
    archive.write_bytes(b"")
    assert parse_source(str(archive), library_id="/a/b").kind is SourceKind.ARCHIVE
    with pytest.raises(InvalidSource, match="library_id is required"):
        parse_source(str(tmp_path))
    with pytest.raises(InvalidSource, match="does not exist"):
        parse_source(str(tmp_path / "missing"), library_id="/a/b")
    with pytest.raises(InvalidSource, match="not of the form"):
        parse_source(str(tmp_path), library_id="no-slash")


def test_llms_full_text_splits_on_top_level_headings_outside_code() -> None:
    text = "# One\n\ntext\n\n```\n# not a heading\n```\n# Two\n\nmore\n"
    pages = split_full_text(text)
    assert [p.splitlines()[0] for p in pages] == ["# One", "# Two"]
    assert "# not a heading" in pages[0]


@pytest.fixture
async def llms_site() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        pages = {
            "/llms.txt": "# Widgets\n\n> Widget docs.\n\n- [Install](/docs/install.md)\n"
            "- [Elsewhere](https://other.example/x.md)\n",
            "/docs/install.md": "# Install\n\nRun this:\n\n```bash\npip install widgets\n```\n",
            "/llms-full.txt": "# Install\n\n```bash\npip install widgets\n```\n\n# Usage\n\n"
            "```python\nimport widgets\nwidgets.run()\n```\n",
        }
        if request.path in pages:
            return web.Response(text=pages[request.path], content_type="text/plain")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


async def test_llms_txt_follows_linked_markdown_on_the_same_host(
    harness: Callable[..., Any], llms_site: str
) -> None:
    h = await harness()
    job = await h.ingest(f"{llms_site}/llms.txt")
    assert job.state == ingest_pb2.JOB_STATE_SUCCEEDED, job.error
    assert job.library_id == "/llmstxt/127-0-0-1"
    contents = [s.snippet.content for s in h.fake.snippets(job.library_id)]
    assert any("pip install widgets" in c for c in contents)


async def test_llms_full_txt_is_split_into_pages(
    harness: Callable[..., Any], llms_site: str
) -> None:
    h = await harness()
    job = await h.ingest(f"{llms_site}/llms-full.txt", library_id="/llmstxt/widgets-full")
    assert job.state == ingest_pb2.JOB_STATE_SUCCEEDED, job.error
    docs = h.fake.published("/llmstxt/widgets-full").docs
    assert len(docs) == 2
    assert any("widgets.run()" in s.snippet.content for s in h.fake.snippets(job.library_id))
