"""Hostile pages (unclosed marks repeated by the thousand) parse to what they say, in linear time.

Each case here once made a regex or a loop read the rest of the text again from every unclosed
mark (or recurse once per line). The tests assert what the page reads as; the times measured
with the full parse+chunk path at 200 KB / 400 KB, before and after, are in the comments.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from twinmcp.ingest import apiref
from twinmcp.ingest.documents import DocumentError, parse_source_config
from twinmcp.ingest.parsing import Block
from twinmcp.ingest.parsing.html import parse_html
from twinmcp.ingest.parsing.inline import clean_inline, plain_heading
from twinmcp.ingest.parsing.markdown import parse_markdown
from twinmcp.ingest.parsing.notebook import parse_notebook
from twinmcp.ingest.parsing.rst import clean_rst_inline, parse_rst, role_text


def _prose(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks if b.kind == "prose"]


def test_an_unclosed_mdx_comment_hides_the_rest_of_the_page_and_parsing_ends() -> None:
    # Before: the expander read the same line again forever (a hang, for any size).
    page = "Intro.\n\n{/* never closed\n" + "hidden\n" * 20_000
    document = parse_markdown(page, "page.mdx")
    assert _prose(document.blocks) == ["Intro."]


def test_many_unclosed_mdx_comments_on_one_line_hide_the_rest() -> None:
    document = parse_markdown("Intro.\n\n" + "{/*" * 50_000 + "\n\nAfter.\n", "page.mdx")
    assert _prose(document.blocks) == ["Intro."]


def test_closed_mdx_comments_still_go_and_the_text_around_them_stays() -> None:
    page = "Intro.\n\n{/* a note\nfor editors */} After.\n\n{/* one */}{/* two */}\n\nEnd.\n"
    document = parse_markdown(page, "page.mdx")
    assert _prose(document.blocks) == ["Intro.", "After.", "End."]


def test_an_unclosed_html_comment_hides_the_lines_after_it() -> None:
    # 100 KB of lines after "<!--": 1.7 s before (the end looked for in a growing string).
    document = parse_markdown("Intro.\n\n<!-- open\n" + "hidden\n" * 20_000, "page.md")
    assert _prose(document.blocks) == ["Intro."]


def test_html_comments_on_every_line_are_all_dropped() -> None:
    document = parse_markdown("Intro.\n\n" + "<!-- x\n" * 20_000 + "\n", "page.md")
    assert _prose(document.blocks) == ["Intro."]


def test_myst_directives_opened_on_every_line_do_not_recurse_without_end() -> None:
    # Before: RecursionError once past ~1,000 lines of "```{note}" (each opened inside the last).
    for marker in ("```{note}", ":::{note}"):
        document = parse_markdown(f"{marker}\n" * 5_000 + "\nEnd.\n", "page.md")
        prose = _prose(document.blocks)
        assert prose.count("**Note**") == 20
        texts = "\n".join(b.text for b in document.blocks)
        assert texts.count(marker) >= 4_900


def test_rst_directives_each_indented_deeper_do_not_recurse_without_end() -> None:
    # Before: RecursionError for 3,000 nested ".. note::" lines.
    page = "".join(" " * i + ".. note::\n" for i in range(3_000)) + "\nEnd.\n"
    document = parse_rst(page, "page.rst")
    prose = _prose(document.blocks)
    assert prose.count("**Note**") == 21
    assert prose[-1] == "End."


def test_unclosed_jsx_tags_with_no_label_give_no_bold_label() -> None:
    # "<Tabs\n" x 30,000: over 10 s for 100 KB before (the label looked for from each "<").
    document = parse_markdown("# Title\n\nIntro.\n\n" + "<Tabs\n" * 30_000, "page.mdx")
    assert [b.text for b in document.blocks] == ["Title", "Intro."]


def test_unclosed_image_marks_stay_as_text_and_real_images_go() -> None:
    # One line of "![" x 50,000 (100 KB): 2.9 s before (HTML page), now milliseconds.
    assert clean_inline("see ![alt](img.png) and " + "![" * 50_000) == "see  and " + "![" * 50_000
    assert clean_inline("![a](x) ![b][ref] [c](y)") == "  c"


def test_unclosed_link_definitions_and_footnotes_stay_as_text() -> None:
    brackets = "[" * 20_000 + "\n" + "[^" * 20_000
    assert clean_inline(brackets) == brackets
    assert clean_inline("Text[^1] here.\n[docs]: https://example.com\n") == "Text here.\n\n"


def test_unclosed_macros_and_attribute_lists_stay_and_closed_ones_go() -> None:
    assert clean_inline("a {{ x }} b " + "{{" * 50_000) == "a  b " + "{{" * 50_000
    assert clean_inline("a {% if x %} b " + "{%" * 50_000) == "a  b " + "{%" * 50_000
    assert clean_inline("a { .note } b " + "{#" * 50_000) == "a  b " + "{#" * 50_000


def test_heading_ids_are_found_after_long_runs_of_spaces_and_unclosed_marks() -> None:
    assert plain_heading("Title {#the-id}") == "Title"
    assert plain_heading("Title" + " " * 100_000 + "x {#id}") == "Title x"
    assert plain_heading("Title " + "{#a" * 30_000) == "Title " + "{#a" * 30_000


def test_rst_links_and_roles_keep_their_text_after_long_runs_of_spaces() -> None:
    # A 20 KB run of spaces after "`": 1.1 s before, growing with its square; now microseconds.
    spaces = " " * 100_000
    assert clean_rst_inline("`Flask  <https://x>`_ and `" + spaces + "x") == (
        "Flask and `" + spaces + "x"
    )
    assert clean_rst_inline("` <https://x>`_") == " "
    assert role_text("ref", "Title   <target>") == "Title"
    assert role_text("ref", "<the-target>") == "the target"
    assert role_text("class", "~a.B") == "`B`"
    assert role_text("ref", spaces + "x") == spaces + "x"


def test_admonitions_and_directives_with_long_space_runs_keep_their_titles() -> None:
    # "!!! a" + 5,000 spaces + "b": 148 s before (backtracking over the run); now microseconds.
    spaces = " " * 200_000
    page = f'!!! note{spaces}"Careful"\n    Body.\n\n!!! tip a{spaces}b\n    More.\n'
    prose = _prose(parse_markdown(page, "page.md").blocks)
    assert prose == ["**Careful**", "Body.", "**Tip**", "More."]
    page = f"/// details | Summary{spaces}\nInside.\n///\n\n```{{note}} a{spaces}b\nNoted.\n```\n"
    prose = _prose(parse_markdown(page, "page.md").blocks)
    assert prose == ["**Summary**", "Inside.", "**Note**", "Noted."]


def test_fastapi_include_marks_repeated_on_one_line_stay_text() -> None:
    # "{*" x 2,500 (5 KB): 0.6 s before, growing with the square; 400 KB now 0.03 s.
    prose = _prose(parse_markdown("{*" * 200_000 + "\n\nAfter.\n", "page.md").blocks)
    assert prose == ["{*" * 200_000, "After."]


def test_a_hidden_element_ends_where_its_close_tag_is_even_with_tags_split_over_lines() -> None:
    page = (
        "Before.\n\n<div hidden>\n<div\nclass='a'>\ninner <div\n>deeper</div>\n</div>\n"
        "still hidden\n</div> Visible.\n\nAfter.\n"
    )
    assert _prose(parse_markdown(page, "page.md").blocks) == ["Before.", "Visible.", "After."]


def test_a_hidden_element_left_open_over_long_lines_drops_its_paragraph() -> None:
    # 400 lines of 40 "<div>" and 300 characters: 0.9 s for 200 KB before (the grown text read
    # again from the start tag for each line), 0.008 s after.
    page = "Before.\n\n<div hidden>\n" + ("<div>" * 40 + "x" * 300 + "\n") * 400 + "\nAfter.\n"
    assert _prose(parse_markdown(page, "page.md").blocks) == ["Before.", "After."]


def test_unclosed_doc_comments_in_a_declaration_file_leave_the_exports_and_their_docs(
    tmp_path: Path,
) -> None:
    # 20 KB of "/** ": 1.5 s before (each read to the end of the file, growing with the square);
    # 400 KB now 0.03 s.
    declarations = (
        "/** " * 100_000
        + "\n/** Adds two numbers.\n * @param x - the first\n */\n"
        + "export declare function add(x: number): number;\n"
    )
    (tmp_path / "index.d.ts").write_text(declarations, encoding="utf-8")
    out = tmp_path / "out"
    written = apiref.write_typescript_reference(tmp_path, "pkg", out, 2 * 1024 * 1024)
    assert written == ["index.md"]
    page = (out / "index.md").read_text(encoding="utf-8")
    assert page == (
        "# API reference: pkg\n\n## function add\n\n"
        "```ts\nexport declare function add(x: number): number;\n```\n\n"
        "Adds two numbers.\n- `x`: the first\n"
    )


def test_code_annotations_go_and_long_blank_runs_in_code_stay() -> None:
    # A 40 KB run of spaces in an annotated block: 1.4 s before (quadratic), 0.008 s after.
    spaces = " " * 200_000
    page = f"```python\nx = 1  # (1)!\n{spaces}y = 2\n```\n\n1. The first.\n"
    code = next(b for b in parse_markdown(page, "page.md").blocks if b.kind == "code")
    assert code.text == f"x = 1\n{spaces}y = 2"
    assert code.has_annotations


def test_a_fence_info_of_one_long_word_is_its_language_and_attributes_still_read() -> None:
    # A 40 KB word after "```": 7 s before (quadratic), 0.002 s after.
    word = "a" * 200_000
    code = parse_markdown(f"```{word}\ncode\n```\n", "page.md").blocks[0]
    assert (code.kind, code.text, code.language) == ("code", "code", word)
    code = parse_markdown('```py title="main.py"\nprint(1)\n```\n', "page.md").blocks[0]
    assert (code.language, code.caption) == ("python", "main.py")


def test_sphinx_roles_are_read_after_long_runs_of_names_and_colons() -> None:
    # 40 KB of ":a" before a role: 5.2 s before (quadratic); 400 KB now 0.01 s, with or
    # without a domain, a "::" or a run of colons.
    run = ":a" * 100_000
    assert clean_rst_inline(run + " :func:`f`") == run + " `f`"
    assert clean_rst_inline(run + " :py:func:`f`") == run + " `f`"
    # Glued to a run of names and colons, a role is not inline markup: left as it is.
    assert clean_rst_inline(run + "::class:`X`") == run + "::class:`X`"
    assert clean_rst_inline("::" * 100_000 + " :ref:`a <b>`") == "::" * 100_000 + " a"


@pytest.mark.parametrize(
    ("text", "read"),
    [
        (":py:class:`Foo`", "`Foo`"),  # the domain is part of the role, not text before it
        ("see :py:meth:`~pkg.Client.get` and :class:`Bar`", "see `get` and `Bar`"),
        (":std:ref:`the guide <guide>`", "the guide"),
        ("(:js:func:`fetch`)", "(`fetch`)"),
        # intersphinx: AnyIO's "the :external+python:doc:`asyncio documentation <...>`"
        (":external+python:doc:`asyncio docs <library/asyncio-task>`", "asyncio docs"),
        (":external+python:py:class:`asyncio.Task`", "`asyncio.Task`"),
        (":func:`f`, :ref:`a <b>`", "`f`, a"),
    ],
)
def test_sphinx_roles_read_with_or_without_their_domain(text: str, read: str) -> None:
    assert clean_rst_inline(text) == read


def test_a_long_run_of_blanks_in_an_html_page_reads_as_one_space_and_pre_keeps_it() -> None:
    # One 40 KB run of spaces: 7.3 s before (markdownify's whitespace regex, quadratic); a
    # 400 KB run now 0.005 s.
    spaces = " " * 200_000
    page = f"<html><body><main><p>x{spaces}y</p><pre>a    b</pre></main></body></html>"
    document = parse_html(page, "page.html")
    assert [(b.kind, b.text) for b in document.blocks] == [
        ("prose", "x y"),
        ("code", "a    b"),
    ]


def test_a_long_uppercase_tag_name_left_open_is_dropped_and_labels_still_read() -> None:
    # "<" + 40 KB of "A": 12 s before (quadratic); 400 KB now 0.05 s.
    document = parse_markdown("Intro.\n\n<" + "A" * 200_000 + " \n", "page.mdx")
    assert _prose(document.blocks) == ["Intro."]
    document = parse_markdown('Intro.\n\n<TabItem value="a"\n  label="Python">\n', "page.mdx")
    assert _prose(document.blocks) == ["Intro.", "**Python**"]


def test_a_decimal_reference_of_thousands_of_digits_reads_as_a_replacement_character() -> None:
    # Before: ValueError out of html.unescape (int() refuses over 4,300 digits).
    assert clean_inline("a &#" + "1" * 200_000 + "; b") == "a \ufffd b"
    assert clean_inline("&#" + "0" * 5_000 + "65; &#65 &#99999999;") == "A A \ufffd"


def test_an_html_page_with_a_decimal_reference_of_thousands_of_digits_still_parses() -> None:
    # Before: ValueError out of BeautifulSoup (int() refuses over 4,300 digits).
    page = (
        "<html><body><main><p>a &#" + "1" * 200_000 + "; b &#" + "0" * 5_000 + "65; c</p>"
        "<p>&#65; &#99999999;</p></main></body></html>"
    )
    assert _prose(parse_html(page, "page.html").blocks) == ["a \ufffd b A c", "A \ufffd"]


def test_html_nested_thousands_deep_reads_as_its_text() -> None:
    # 5,000 nested <div>s (25 KB): RecursionError after 10 s before (markdownify recursing,
    # bs4's `decomposed` searching each subtree); 0.3 s after, 80,000 (400 KB) 3.0 s.
    page = "<main>" + "<div>" * 5_000 + "deep <b>text</b><p hidden>secret</p></main>"
    assert _prose(parse_html(page, "page.html").blocks) == ["deep text"]
    page = "<main>" + "<div>" * 90 + "<h2>Title</h2><p>Body.</p></main>"
    blocks = parse_html(page, "page.html").blocks
    assert [(b.kind, b.text) for b in blocks] == [("heading", "Title"), ("prose", "Body.")]


def test_front_matter_nested_thousands_deep_is_dropped_and_the_page_still_parses() -> None:
    # Before: YAML and TOML parsers followed "[[[[..." recursively and the page raised
    # RecursionError (a failed file, found after the survey above).
    for fence, nested in (("---", "[" * 50_000), ("+++", "a = " + "[" * 50_000)):
        page = f"{fence}\n{nested}\n{fence}\n# Gizmo\n\nGizmo assembles widgets.\n"
        document = parse_markdown(page, "page.md")
        assert _prose(document.blocks) == ["Gizmo assembles widgets."]


def test_json_and_yaml_nested_thousands_deep_are_refused_or_ignored_not_raised() -> None:
    # Before: each raised RecursionError out of the parser (a failed job, not a refused file).
    nested = "[" * 50_000
    myst = parse_markdown(f"```{{note}}\n---\n{nested}\n---\nBody text here.\n```\n", "p.md")
    assert "Body text here." in _prose(myst.blocks)
    literal = parse_rst(f"Title\n=====\n\n.. code-block::\n\n    {nested}\n", "p.rst")
    assert any(block.text.startswith("[[[") for block in literal.blocks)
    with pytest.raises(DocumentError, match=r"n\.ipynb is not a valid notebook"):
        parse_notebook(nested, "n.ipynb")
    with pytest.raises(DocumentError, match=r"twinmcp\.json is not valid JSON: nested too deeply"):
        parse_source_config(nested)
