"""Ingesting the eval corpora from folders and git repositories, checked against the files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinmcp.ingest.v1 import ingest_pb2

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED
CORPUS = Path(__file__).resolve().parents[3].parent / "shared/eval/corpus"


def _subset(library: str, dest: Path, prefixes: tuple[str, ...]) -> Path:
    root = CORPUS / library
    for file in root.rglob("*"):
        relative = file.relative_to(root).as_posix()
        if file.is_file() and relative.startswith(prefixes):
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    return dest


async def test_httpx_folder_is_ingested_with_every_doc_file_and_published_once(
    harness: Callable[..., Any],
) -> None:
    h = await harness()
    job = await h.ingest(str(CORPUS / "encode__httpx"), library_id="/encode/httpx")
    assert job.state == SUCCEEDED, job.error
    assert job.version == "latest"
    fake = h.fake
    docs = fake.published("/encode/httpx").docs
    doc_pages = {
        p.relative_to(CORPUS / "encode__httpx").as_posix()
        for p in (CORPUS / "encode__httpx" / "docs").rglob("*.md")
    }
    # Every documentation page except community boilerplate the selection leaves out.
    assert doc_pages - set(docs) <= {"docs/code_of_conduct.md", "docs/contributing.md"}
    assert {"docs/quickstart.md", "docs/advanced/clients.md"} <= set(docs)
    snippets = fake.snippets("/encode/httpx")
    assert job.progress.snippets == len(snippets) > 50
    # Snippet text comes from the real files.
    quickstart = (CORPUS / "encode__httpx/docs/quickstart.md").read_text()
    code = [
        s.snippet
        for s in snippets
        if s.snippet.source_path == "docs/quickstart.md" and s.snippet.kind == 1
    ]
    assert code and all(line in quickstart for s in code for line in s.content.splitlines()[:1])
    assert all(len(s.embedding) == 8 for s in snippets)
    assert fake.count("PublishBuild") == 1 and fake.count("AbortBuild") == 0


async def test_fastapi_pages_carry_their_included_docs_src_code_from_a_git_tag(
    harness: Callable[..., Any],
    git_https: Callable[[], Any],
    tmp_path: Path,
) -> None:
    server = await git_https()
    h = await harness(INGEST_GIT_CA_FILE=str(server.ca_file))
    subset = _subset(
        "fastapi__fastapi",
        tmp_path / "subset",
        (
            "docs/en/docs/tutorial/cors.md",
            "docs/en/docs/tutorial/first-steps.md",
            "docs_src/cors",
            "docs_src/first_steps",
            "README.md",
        ),
    )
    url = server.publish(subset, "fastapi/fastapi.git", "0.115.0")
    job = await h.ingest(url, library_id="/fastapi/fastapi", version="0.115.0")
    assert job.state == SUCCEEDED, job.error
    assert job.version == "0.115.0"
    snippets = [s.snippet for s in h.fake.snippets("/fastapi/fastapi", "0.115.0")]
    cors = [s for s in snippets if s.source_path == "docs/en/docs/tutorial/cors.md"]
    included = next(iter(sorted((subset / "docs_src/cors").glob("*.py"))))
    assert any("CORSMiddleware" in s.content and "allow_origins" in s.content for s in cors)
    assert any(
        (s.content.strip() and s.content.strip() in included.read_text())
        or "app.add_middleware" in s.content
        for s in cors
    )


async def test_flask_literalinclude_is_resolved_and_folder_and_git_agree(
    harness: Callable[..., Any],
    git_https: Callable[[], Any],
    tmp_path: Path,
) -> None:
    server = await git_https()
    h = await harness(INGEST_GIT_CA_FILE=str(server.ca_file))
    folder = _subset("pallets__flask", tmp_path / "flask", ("docs/", "README", "LICENSE"))
    (folder / "examples").mkdir()
    (folder / "examples/hello.py").write_text(
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/')\n"
        "def hello():\n    return 'Hello from the literalinclude'\n"
    )
    (folder / "docs/hello.rst").write_text(
        "Hello app\n=========\n\nThe smallest application:\n\n"
        ".. literalinclude:: ../examples/hello.py\n    :language: python\n"
    )
    from_folder = await h.ingest(str(folder), library_id="/local/flask")
    url = server.publish(folder, "pallets/flask.git", "3.1.0")
    from_git = await h.ingest(url, library_id="/pallets/flask", ref="3.1.0")
    assert from_folder.state == from_git.state == SUCCEEDED, (from_folder.error, from_git.error)
    assert from_git.version == "3.1.0"
    a = [s.snippet.content for s in h.fake.snippets("/local/flask")]
    b = [s.snippet.content for s in h.fake.snippets("/pallets/flask")]
    assert a == b and len(a) > 200
    page = [
        s.snippet.content
        for s in h.fake.snippets("/local/flask")
        if s.snippet.source_path == "docs/hello.rst"
    ]
    assert any("return 'Hello from the literalinclude'" in c for c in page), page
    assert not any("literalinclude" in c.replace("from the literalinclude", "") for c in page)


async def test_pydantic_folder_ingest_succeeds_with_snippets_from_its_docs(
    harness: Callable[..., Any],
) -> None:
    h = await harness(with_embedder=False)
    job = await h.ingest(str(CORPUS / "pydantic__pydantic"), library_id="/pydantic/pydantic")
    assert job.state == SUCCEEDED, job.error
    snippets = h.fake.snippets("/pydantic/pydantic")
    assert len(snippets) > 300
    assert all(not s.embedding for s in snippets)
    assert any("BaseModel" in s.snippet.content for s in snippets)
