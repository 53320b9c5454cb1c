"""Markdown/MDX pages become readable snippets: includes resolved, markup noise gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from twinmcp.ingest.chunking import ChunkingOptions, parse_document
from twinmcp.ingest.documents import DocumentError, SnippetDraft

EVAL = Path(__file__).resolve().parents[3] / "../shared/eval"
FASTAPI = EVAL / "corpus/fastapi__fastapi"
PYDANTIC = EVAL / "corpus/pydantic__pydantic"


def _write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _everything(drafts: list[SnippetDraft]) -> str:
    return "\n".join(f"{d.title}\n{d.description}\n{d.content}" for d in drafts)


def test_fastapi_page_shows_its_included_docs_src_code() -> None:
    drafts = parse_document(FASTAPI, "docs/en/docs/tutorial/cors.md")
    code = [d for d in drafts if d.kind == "code"]
    assert len(code) == 1
    snippet = code[0]
    expected = (FASTAPI / "docs_src/cors/tutorial001_py310.py").read_text().strip()
    assert snippet.content == expected
    assert "app.add_middleware(" in snippet.content
    assert snippet.language == "python"
    assert snippet.source_path == "docs/en/docs/tutorial/cors.md"
    assert snippet.included_from == "docs_src/cors/tutorial001_py310.py"
    assert snippet.anchor == "use-corsmiddleware"
    assert "Import `CORSMiddleware`" in snippet.description
    assert snippet.breadcrumb == ("CORS (Cross-Origin Resource Sharing)", "Use CORSMiddleware")
    assert "{*" not in _everything(drafts)


def test_fastapi_line_range_include_shows_exactly_those_lines() -> None:
    drafts = parse_document(FASTAPI, "docs/en/docs/tutorial/sql-databases.md")
    source = (FASTAPI / "docs_src/sql_databases/tutorial001_an_py310.py").read_text().split("\n")
    included = [
        d for d in drafts if d.included_from.endswith("sql_databases/tutorial001_an_py310.py")
    ]
    assert included[0].content == "\n".join(source[0:11]).strip()
    assert included[1].content == "\n".join(source[13:18]).strip()


def test_a_file_included_again_shows_the_lines_the_page_highlights() -> None:
    drafts = parse_document(FASTAPI, "docs/en/docs/tutorial/body-updates.md")
    from_002 = [d for d in drafts if d.included_from.endswith("body_updates/tutorial002_py310.py")]
    assert len(from_002) >= 2
    assert "@app.patch" in from_002[0].content
    second = from_002[1]
    assert "model_copy(update=update_data)" in second.content
    assert len(second.content.split("\n")) < len(from_002[0].content.split("\n"))
    assert "`.model_copy()`" in second.description


def test_include_outside_the_root_is_refused_without_failing_the_document(tmp_path: Path) -> None:
    outside = tmp_path / "secret.py"
    outside.write_text("TOKEN = 'do-not-leak'\n")
    root = tmp_path / "repo"
    _write(root, "docs_src/ok.py", "print('inside')\n")
    os.symlink(outside, root / "docs_src/link.py")
    _write(
        root,
        "docs/page.md",
        "# Page\n\nIntro text.\n\n{* ../../secret.py *}\n\n{* ../docs_src/link.py *}\n\n"
        '```python\n--8<-- "/etc/passwd"\n```\n\n--8<-- "../../secret.py"\n\n'
        "## Fine\n\nShown code:\n\n{* ../docs_src/ok.py *}\n",
    )
    drafts = parse_document(root, "docs/page.md")
    text = _everything(drafts)
    assert "do-not-leak" not in text
    assert "root:" not in text
    assert "Not shown" in text
    assert any(d.content == "print('inside')" for d in drafts)
    assert "Intro text." in text


def test_a_code_block_is_never_split_even_when_longer_than_the_target(tmp_path: Path) -> None:
    code = "\n".join(
        f"value_{i} = compute({i})  # a line that makes the block long" for i in range(400)
    )
    _write(tmp_path, "long.md", f"# Long\n\nThis introduces it.\n\n```python\n{code}\n```\n")
    drafts = parse_document(tmp_path, "long.md", options=ChunkingOptions(target_tokens=100))
    code_drafts = [d for d in drafts if d.kind == "code"]
    assert len(code_drafts) == 1
    assert code_drafts[0].content == code
    assert code_drafts[0].description == "This introduces it."
    assert code_drafts[0].tokens > 2000


def test_a_long_prose_section_is_split_at_paragraph_boundaries(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 60 for i in range(12)]
    _write(tmp_path, "p.md", "# Prose\n\n" + "\n\n".join(paragraphs) + "\n")
    drafts = parse_document(tmp_path, "p.md", options=ChunkingOptions(target_tokens=200))
    assert len(drafts) > 3
    for draft in drafts:
        assert all(
            part.strip() in paragraphs[int(part.split()[1])] for part in draft.content.split("\n\n")
        )
        assert draft.tokens < 400
    assert "\n\n".join(d.content for d in drafts) == "\n\n".join(p.strip() for p in paragraphs)


def test_binary_data_named_md_raises_document_error(tmp_path: Path) -> None:
    (tmp_path / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DocumentError, match="binary"):
        parse_document(tmp_path, "image.md")


def test_text_that_is_not_utf8_raises_document_error(tmp_path: Path) -> None:
    (tmp_path / "latin.md").write_bytes("# Caf\xe9\n\nna\xefve".encode("latin-1"))
    with pytest.raises(DocumentError, match="UTF-8"):
        parse_document(tmp_path, "latin.md")


def test_a_path_leaving_the_root_raises_document_error(tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text("# Out\n")
    (tmp_path / "root").mkdir()
    with pytest.raises(DocumentError, match="outside"):
        parse_document(tmp_path / "root", "../outside.md")


def test_front_matter_and_mdx_imports_never_reach_snippets(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "docs/install.mdx",
        "---\ntitle: Installing the SDK\nsidebar_position: 2\n---\n"
        "import Tabs from '@theme/Tabs';\nimport TabItem from '@theme/TabItem';\n"
        "export const meta = {\n  author: 'x',\n};\n\n"
        "{/* a comment for editors */}\n<!-- hidden note -->\n\n"
        "Pick your package manager.\n\n"
        '<Tabs groupId="pm">\n  <TabItem value="npm" label="npm">\n\n'
        "```bash\nnpm install sdk\n```\n\n  </TabItem>\n"
        '  <TabItem value="yarn" label="Yarn">\n\n```bash\nyarn add sdk\n```\n\n'
        "  </TabItem>\n</Tabs>\n\n"
        '<Callout type="info">Remember to restart the server.</Callout>\n',
    )
    drafts = parse_document(tmp_path, "docs/install.mdx")
    text = _everything(drafts)
    for noise in (
        "import Tabs",
        "export const",
        "sidebar_position",
        "<Tabs",
        "TabItem",
        "{/*",
        "hidden note",
        "<Callout",
        "---",
    ):
        assert noise not in text
    assert drafts[0].breadcrumb[0] == "Installing the SDK"
    assert [d.content for d in drafts if d.kind == "code"] == ["npm install sdk", "yarn add sdk"]
    assert "**Yarn**" in text
    assert "Remember to restart the server." in text


def test_mkdocs_admonitions_and_tabs_read_as_prose(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.md",
        '# Guide\n\n!!! warning "Mind the gap"\n    Do not do this.\n\n'
        "/// tip | Faster\n\nUse the cache.\n\n///\n\n"
        "??? example\n    Here is how:\n\n    ```python\n    run()\n    ```\n\n"
        '=== "Sync"\n\n    ```python\n    client.get()\n    ```\n',
    )
    drafts = parse_document(tmp_path, "a.md")
    text = _everything(drafts)
    assert "!!!" not in text and "///" not in text and "???" not in text and "===" not in text
    assert "**Mind the gap**" in text and "Do not do this." in text
    assert "**Faster**" in text and "Use the cache." in text
    code = {d.content: d for d in drafts if d.kind == "code"}
    assert set(code) == {"run()", "client.get()"}
    assert "Here is how:" in code["run()"].description


def test_pymdownx_snippets_honour_line_ranges_and_sections(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "examples/app.py",
        "a = 1\nb = 2\nc = 3\n# --8<-- [start:core]\nd = 4\n# --8<-- [end:core]\n",
    )
    _write(tmp_path, "docs/part.md", "Shared paragraph from another file.\n")
    _write(
        tmp_path,
        "docs/page.md",
        '# Page\n\nLines:\n\n```python\n--8<-- "examples/app.py:2:3"\n```\n\n'
        'Section:\n\n```python\n--8<-- "examples/app.py:core"\n```\n\n--8<-- "docs/part.md"\n',
    )
    drafts = parse_document(tmp_path, "docs/page.md")
    assert [d.content for d in drafts if d.kind == "code"] == ["b = 2\nc = 3", "d = 4"]
    assert "Shared paragraph from another file." in _everything(drafts)


def test_headings_get_the_anchors_mkdocs_renders(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "h.md",
        "# Title\n\n## Use `CORSMiddleware`\n\ntext one\n\n## Custom { #my-id }\n\ntext two\n",
    )
    drafts = parse_document(tmp_path, "h.md")
    assert [d.anchor for d in drafts] == ["use-corsmiddleware", "my-id"]
    assert drafts[1].title == "Title > Custom"


def test_pydantic_api_stubs_become_one_reference_line() -> None:
    drafts = parse_document(PYDANTIC, "docs/api/base_model.md")
    text = _everything(drafts)
    assert "API reference: `pydantic.BaseModel`" in text
    assert "show_root_heading" not in text and ":::" not in text


def test_code_annotations_stay_with_their_code() -> None:
    drafts = parse_document(PYDANTIC, "docs/concepts/validators.md")
    first = next(d for d in drafts if d.kind == "code" and "def is_even" in d.content)
    assert "# (1)!" not in first.content
    assert "return the validated value" in first.description.split("```")[-1]


def test_myst_directives_read_as_sphinx_renders_them(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "m.md",
        "# Types\n\n(choice-type)=\n\n## Choice\n\nUse the {class}`Choice` type, see "
        "{ref}`the ranges <ranges>`.\n\nThe path `/items/{item_id}` has a parameter `item_id`.\n\n"
        "```{eval-rst}\n.. theme:example::\n\n    @click.command()\n"
        "    @click.option('--kind', type=click.Choice(['a', 'b']))\n    def run(kind):\n"
        "        click.echo(kind)\n```\n\n"
        '```{code-block} toml\n:caption: pyproject.toml\n\n[project]\nname = "demo"\n```\n\n'
        ":::{note}\nChoices are case sensitive.\n:::\n\n"
        "```{versionchanged} 8.2\nEnums are accepted.\n```\n\n"
        "```{toctree}\n:hidden:\n\nother\n```\n",
    )
    drafts = parse_document(tmp_path, "m.md")
    text = _everything(drafts)
    for noise in ("{class}", "{ref}", "(choice-type)=", "```", ":::", "{note}", "toctree"):
        assert noise not in text
    assert "Use the `Choice` type, see the ranges." in text
    assert "The path `/items/{item_id}` has a parameter `item_id`." in text
    assert "**Note**" in text and "Choices are case sensitive." in text
    assert "*Changed in version 8.2.*" in text and "Enums are accepted." in text
    code = {d.language: d for d in drafts if d.kind == "code"}
    assert set(code) == {"python", "toml"}
    assert code["python"].content.startswith("@click.command()")
    assert "type=click.Choice(['a', 'b'])" in code["python"].content
    assert code["toml"].content == '[project]\nname = "demo"'
    assert "File: pyproject.toml" in code["toml"].description


def test_an_unknown_myst_directive_keeps_a_code_body_as_code_and_prose_as_prose(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        "c.md",
        "# Options\n\nAn option with a default:\n\n```{click:example}\n@click.command()\n"
        "@click.option('--count', default=1)\ndef hello(count):\n    click.echo(count)\n```\n\n"
        ":::{theme:aside}\nOptions are optional, as the name says, unless required is set.\n:::\n\n"
        "```{note}\nprint(count)\n```\n",
    )
    drafts = parse_document(tmp_path, "c.md")
    code = [d for d in drafts if d.kind == "code"]
    assert [d.language for d in code] == ["python"]
    assert code[0].content == (
        "@click.command()\n@click.option('--count', default=1)\ndef hello(count):\n"
        "    click.echo(count)"
    )
    text = _everything(drafts)
    assert "Options are optional, as the name says, unless required is set." in text
    assert "**Note**" in text and "print(count)" in text


def test_myst_include_brings_the_marked_part_of_the_readme(tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "# Demo\n\nBadges\n<!-- begin -->\nDemo logs fast.\n")
    _write(
        tmp_path,
        "docs/index.md",
        "# Demo\n\n```{include} ../README.md\n:start-after: <!-- begin -->\n```\n",
    )
    text = _everything(parse_document(tmp_path, "docs/index.md"))
    assert "Demo logs fast." in text
    assert "Badges" not in text and "{include}" not in text


def test_an_indented_code_block_is_code_and_an_indented_list_paragraph_is_prose(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        "indented.md",
        "# Setup\n\nCreate the client:\n\n"
        "    client = Client(timeout=5)\n    client.connect()\n\n"
        "- Retry on failure.\n\n    Retries back off exponentially.\n\n"
        "1. Install it:\n\n        pip install client\n\nDone.\n",
    )
    drafts = parse_document(tmp_path, "indented.md")
    code = [d for d in drafts if d.kind == "code"]
    assert [d.content for d in code] == [
        "client = Client(timeout=5)\nclient.connect()",
        "pip install client",
    ]
    assert code[0].description == "Create the client:"
    assert "Retries back off exponentially." in _everything(drafts)
    assert not any("Retries" in d.content or "Install it" in d.content for d in code)


def test_mdx_indentation_inside_components_is_never_code(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "docs/tabs.mdx",
        '# Tabs\n\nPick one.\n\n<Tabs>\n  <TabItem value="a">\n\n'
        "    Indented words inside a component stay prose.\n\n"
        "    ```js\n    run()\n    ```\n\n  </TabItem>\n</Tabs>\n",
    )
    drafts = parse_document(tmp_path, "docs/tabs.mdx")
    assert [(d.kind, d.content) for d in drafts if d.kind == "code"] == [("code", "run()")]
    assert "Indented words inside a component stay prose." in _everything(drafts)


def test_a_fence_inside_a_blockquote_is_code(tmp_path: Path) -> None:
    _write(tmp_path, "q.md", "# Q\n\n> Note:\n>\n> ```python\n> x = 1\n> ```\n")
    drafts = parse_document(tmp_path, "q.md")
    assert [(d.content, d.language) for d in drafts if d.kind == "code"] == [("x = 1", "python")]


def test_text_nested_past_the_parser_limit_is_kept_as_prose(tmp_path: Path) -> None:
    _write(tmp_path, "deep.md", "# Deep\n\n" + "> " * 300 + "buried words\n\nafter words\n")
    text = _everything(parse_document(tmp_path, "deep.md"))
    assert "buried words" in text and "after words" in text


def test_indented_html_left_by_a_dropped_wrapper_and_annotation_notes_stay_prose(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        "a.md",
        '# A\n\n<p align="center">\n    <em>Fast to code, ready for production</em>\n</p>\n\n'
        "- Plain:\n\n    ```python\n    x = 1  # (1)!\n    ```\n\n"
        "      1. The value the example starts from.\n",
    )
    drafts = parse_document(tmp_path, "a.md")
    assert [d.content for d in drafts if d.kind == "code"] == ["x = 1"]
    text = _everything(drafts)
    assert "Fast to code, ready for production" in text and "<em>" not in text
    assert "The value the example starts from." in text
