"""Snippet sizes and duplicates: near-identical snippets collapse, distinct ones stay, in order."""

from __future__ import annotations

from pathlib import Path

from twinmcp.ingest.chunking import parse_document
from twinmcp.ingest.dedupe import dedupe
from twinmcp.ingest.documents import SnippetDraft
from twinmcp.tokens import count_tokens

EVAL = Path(__file__).resolve().parents[3] / "../shared/eval"
FASTAPI = EVAL / "corpus/fastapi__fastapi"

CODE = "\n".join(
    [
        "from fastapi import FastAPI",
        "from pydantic import BaseModel",
        "",
        "app = FastAPI()",
        "",
        "class Item(BaseModel):",
        "    name: str",
        "    description: str | None = None",
        "    price: float",
        "    tax: float | None = None",
        "    tags: list[str] = []",
        "",
        "@app.post('/items/')",
        "async def create_item(item: Item):",
        "    item_dict = item.model_dump()",
        "    if item.tax is not None:",
        "        price_with_tax = item.price + item.tax",
        "        item_dict.update({'price_with_tax': price_with_tax})",
        "    return item_dict",
    ]
)


def _draft(
    content: str, path: str = "a.md", description: str = "Declare the model."
) -> SnippetDraft:
    return SnippetDraft(
        kind="code",
        title="Body",
        description=description,
        language="python",
        content=content,
        breadcrumb=("Body",),
        source_path=path,
        anchor="body",
        tokens=10,
    )


def test_near_duplicate_snippets_collapse_to_the_first_seen() -> None:
    variant = CODE.replace("str | None = None", "Union[str, None] = None", 1)
    drafts = [_draft(CODE, "a.md"), _draft("print('other')", "b.md"), _draft(variant, "c.md")]
    kept = dedupe(drafts)
    assert [d.source_path for d in kept] == ["a.md", "b.md"]


def test_whitespace_only_differences_are_exact_duplicates() -> None:
    spaced = CODE.replace("\n", "\n\n").replace("    ", "\t")
    kept = dedupe([_draft(CODE, "a.md"), _draft(spaced, "b.md")])
    assert [d.source_path for d in kept] == ["a.md"]


def test_the_same_code_explained_differently_is_kept_twice() -> None:
    other_prose = (
        "A completely different explanation about taxes, totals and how prices are computed."
    )
    kept = dedupe([_draft(CODE, "a.md"), _draft(CODE, "b.md", description=other_prose)])
    assert len(kept) == 2


def test_clearly_different_code_is_never_collapsed() -> None:
    other = CODE.replace("create_item", "update_item").replace(
        "model_dump()", "model_dump(exclude_unset=True)"
    )
    other = (
        other
        + "\n\n@app.get('/items/{item_id}')\nasync def read_item(item_id: int):"
        + "\n    return {'id': item_id}"
    )
    kept = dedupe([_draft(CODE, "a.md"), _draft(other, "b.md")])
    assert len(kept) == 2


def test_dedupe_over_fastapi_keeps_every_page_with_code() -> None:
    pages = [
        "docs/en/docs/tutorial/body.md",
        "docs/en/docs/tutorial/cors.md",
        "docs/en/docs/tutorial/body-updates.md",
    ]
    drafts = [draft for page in pages for draft in parse_document(FASTAPI, page)]
    kept = dedupe(drafts + drafts)
    assert kept == dedupe(drafts)
    assert {d.source_path for d in kept if d.kind == "code"} == set(pages)


def test_tokens_count_what_the_agent_reads() -> None:
    for draft in parse_document(FASTAPI, "docs/en/docs/tutorial/cors.md"):
        assert draft.tokens == count_tokens(f"{draft.title}\n{draft.description}\n{draft.content}")


def test_every_snippet_of_a_real_page_stays_within_a_readable_size() -> None:
    drafts = parse_document(FASTAPI, "docs/en/docs/tutorial/security/oauth2-jwt.md")
    info = [d for d in drafts if d.kind == "info"]
    assert info and all(d.tokens <= 600 for d in info)
    assert all(d.content.strip() for d in drafts)


def test_a_heading_repeated_on_its_page_is_titled_with_its_parent(tmp_path: Path) -> None:
    (tmp_path / "faq.md").write_text(
        "# FAQ\n\n## Calling a command from Python\n\nIt exits with a usage error.\n\n"
        "### Answer\n\nKeep a plain function and wrap it in a thin command.\n\n"
        "## Colors on Windows\n\nNo colors appear in the console.\n\n"
        "### Answer\n\nInstall colorama so that the styles are translated.\n\n"
        "## Installing\n\n### Requirements\n\nPython 3.10 or newer is required to run it.\n",
        encoding="utf-8",
    )
    titles = [d.title for d in parse_document(tmp_path, "faq.md")]
    assert titles == [
        "FAQ > Calling a command from Python",
        "FAQ > Calling a command from Python > Answer",
        "FAQ > Colors on Windows",
        "FAQ > Colors on Windows > Answer",
        "FAQ > Requirements",
    ]


def test_a_short_example_stays_with_the_paragraphs_that_introduce_it(tmp_path: Path) -> None:
    (tmp_path / "m.md").write_text(
        "# Middleware\n\n## CORS on error responses\n\n"
        "When using CORSMiddleware with your application, it is important to ensure that CORS "
        "headers are applied even to error responses generated by unhandled exceptions. The "
        "recommended solution is to wrap the entire application with CORSMiddleware. This "
        "approach guarantees that even if an exception is caught by the outer error-handling "
        "middleware, the response will still include the proper Access-Control-Allow-Origin "
        "header.\n\n"
        "Instead of adding CORSMiddleware as an inner middleware via the middleware parameter, "
        "you can wrap your application as follows:\n\n"
        "```python\napp = Starlette()\napp = CORSMiddleware(app=app, allow_origins=['*'])\n```\n",
        encoding="utf-8",
    )
    drafts = parse_document(tmp_path, "m.md")
    assert [d.kind for d in drafts] == ["code"]
    assert drafts[0].description.startswith("When using CORSMiddleware with your application")
    assert drafts[0].description.endswith("you can wrap your application as follows:")
    assert drafts[0].content.startswith("app = Starlette()")
