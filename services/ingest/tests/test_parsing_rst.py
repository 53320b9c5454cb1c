"""reStructuredText (Sphinx) pages: directives resolved, roles and markup read as plain text."""

from __future__ import annotations

from pathlib import Path

from twinmcp.ingest.chunking import parse_document
from twinmcp.ingest.documents import SnippetDraft

EVAL = Path(__file__).resolve().parents[3] / "../shared/eval"
FLASK = EVAL / "corpus/pallets__flask"


def _write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _everything(drafts: list[SnippetDraft]) -> str:
    return "\n".join(f"{d.title}\n{d.description}\n{d.content}" for d in drafts)


def test_flask_literalinclude_of_the_licence_is_resolved() -> None:
    drafts = parse_document(FLASK, "docs/license.rst")
    code = [d for d in drafts if d.kind == "code"]
    assert len(code) == 1
    assert code[0].content == (FLASK / "LICENSE.txt").read_text().strip()
    assert code[0].included_from == "LICENSE.txt"
    assert code[0].language == "text"


def test_literalinclude_options_pick_the_lines_the_page_shows(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "examples/app.py",
        "import os\n\n\nclass Store:\n    def get(self):\n        return 1\n\n    def put(self):\n"
        "        return 2\n\n\n# start here\nprint('middle')\n# stop here\nprint('end')\n",
    )
    _write(
        tmp_path,
        "docs/page.rst",
        "Page\n====\n\nMethod only:\n\n.. literalinclude:: ../examples/app.py\n   :pyobject: "
        "Store.put\n\n"
        "Lines:\n\n.. literalinclude:: ../examples/app.py\n   :lines: 1,4-6\n\n"
        "Between markers:\n\n.. literalinclude:: /examples/app.py\n   :start-after: # start here\n"
        "   :end-before: # stop here\n   :language: python\n",
    )
    code = [d.content for d in parse_document(tmp_path, "docs/page.rst") if d.kind == "code"]
    assert code == [
        "def put(self):\n    return 2",
        "import os\nclass Store:\n    def get(self):\n        return 1",
        "print('middle')",
    ]


def test_rst_include_outside_the_root_is_refused_without_failing(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("hunter2\n")
    _write(
        tmp_path,
        "repo/docs/page.rst",
        "Page\n====\n\nBefore.\n\n.. literalinclude:: ../../secret.txt\n\n.. include:: "
        "../../secret.txt\n\nAfter.\n",
    )
    drafts = parse_document(tmp_path / "repo", "docs/page.rst")
    text = _everything(drafts)
    assert "hunter2" not in text
    assert "Before." in text and "After." in text


def test_code_blocks_and_literal_blocks_become_code_with_their_introduction() -> None:
    drafts = parse_document(FLASK, "docs/config.rst")
    code = {d.content: d for d in drafts if d.kind == "code"}
    assert "app = Flask(__name__)\napp.config['TESTING'] = True" in code
    basics = code["app = Flask(__name__)\napp.config['TESTING'] = True"]
    assert basics.description.endswith("can be modified just like any dictionary:")
    assert basics.anchor == "configuration-basics"
    debug = code["$ flask --app hello run --debug"]
    assert debug.language == "text"
    assert debug.breadcrumb == ("Configuration Handling", "Debug Mode")


def test_sphinx_roles_become_plain_code_names(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "r.rst",
        "Roles\n=====\n\nThe :attr:`~flask.Flask.config` of :class:`flask.Flask`, see "
        ":ref:`the guide <guide>`,"
        " :doc:`/patterns/appfactories` and ``literal`` or `a link <https://x.org>`_.\n",
    )
    content = parse_document(tmp_path, "r.rst")[0].content
    assert content == (
        "The `config` of `flask.Flask`, see the guide, appfactories and `literal` or a link."
    )


def test_directives_read_as_prose_and_autodoc_as_short_references(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "d.rst",
        "API\n===\n\n.. note::\n   Mind the context.\n\n.. versionadded:: 2.0\n   Async views.\n\n"
        ".. autoclass:: Flask\n   :members:\n   :inherited-members:\n\n.. toctree::\n   "
        ":maxdepth: 2\n\n   one\n   two\n\n"
        ".. py:data:: SECRET_KEY\n\n   A secret key.\n\n   Default: ``None``\n\n.. _label:\n\n"
        ".. code-block:: python\n   :caption: app.py\n\n   app.run()\n",
    )
    drafts = parse_document(tmp_path, "d.rst")
    text = _everything(drafts)
    assert "**Note**" in text and "Mind the context." in text
    assert "*Added in version 2.0.* Async views." in text
    assert "API reference (class): `Flask`" in text
    assert ":members:" not in text and "toctree" not in text and "maxdepth" not in text
    assert "**`SECRET_KEY`**" in text and "Default: `None`" in text
    assert ".. " not in text
    code = [d for d in drafts if d.kind == "code"]
    assert code[0].content == "app.run()" and "File: app.py" in code[0].description


def test_section_levels_follow_the_order_adornments_appear(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "s.rst",
        "=====\nTitle\n=====\n\nIntro words here.\n\nFirst\n-----\n\nOne words.\n\nDeeper\n"
        "~~~~~~\n\n"
        "Two words.\n\nSecond\n------\n\nThree words.\n",
    )
    drafts = parse_document(tmp_path, "s.rst")
    assert [d.breadcrumb for d in drafts] == [
        ("Title",),
        ("Title", "First"),
        ("Title", "First", "Deeper"),
        ("Title", "Second"),
    ]
    assert [d.anchor for d in drafts] == ["title", "first", "deeper", "second"]


def test_an_unknown_directive_keeps_a_python_body_as_code_and_prose_as_prose(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        "u.rst",
        "Usage\n=====\n\n.. theme:example::\n\n    import click\n\n    @click.command()\n"
        "    def hello():\n        click.echo('Hello')\n\n"
        ".. theme:aside::\n\n    Commands can be nested in groups.\n\n"
        ".. theme:list::\n\n    - item\n",
    )
    drafts = parse_document(tmp_path, "u.rst")
    code = [d for d in drafts if d.kind == "code"]
    assert len(code) == 1
    assert code[0].language == "python"
    assert code[0].content.startswith("import click\n\n@click.command()")
    assert "Commands" not in code[0].content and "- item" not in code[0].content
    text = _everything(drafts)
    assert "Commands can be nested in groups." in text and "- item" in text


def test_an_unknown_directive_named_as_an_example_keeps_a_fragment_that_does_not_parse(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        "f.rst",
        "Options\n=======\n\nStack the decorators on your command:\n\n.. click:example::\n\n"
        "    @click.command()\n    @click.option('--count', default=1, help='How many.')\n"
        "    <your function here>\n\n"
        ".. theme:snippet::\n\n    --count 3 --name Ada\n",
    )
    drafts = parse_document(tmp_path, "f.rst")
    code = {d.content.split("\n")[0]: d for d in drafts if d.kind == "code"}
    assert set(code) == {"@click.command()", "--count 3 --name Ada"}
    assert code["@click.command()"].language == "python"
    assert "default=1, help='How many.'" in code["@click.command()"].content
    assert code["--count 3 --name Ada"].language == "text"


def test_an_unknown_directive_whose_body_is_javascript_keeps_it_as_javascript(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        "j.rst",
        "Server\n======\n\n.. runnable::\n\n    const fastify = require('fastify')()\n\n"
        "    fastify.get('/', async (request, reply) => {\n      return { hello: 'world' }\n"
        "    })\n\n    await fastify.listen({ port: 3000 });\n\n"
        ".. typed::\n\n    interface Options {\n      port: number;\n    }\n"
        "    export const options: Options = { port: 3000 };\n",
    )
    drafts = parse_document(tmp_path, "j.rst")
    code = {d.language: d for d in drafts if d.kind == "code"}
    assert set(code) == {"javascript", "typescript"}
    assert code["javascript"].content.startswith("const fastify = require('fastify')()")
    assert "await fastify.listen({ port: 3000 });" in code["javascript"].content
    assert code["typescript"].content.startswith("interface Options {")


def test_known_prose_directives_stay_prose_even_when_a_line_parses_as_code(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        "p.rst",
        "Scores\n======\n\n.. math::\n\n    score = tf * idf\n\n"
        ".. only:: html\n\n    print(the badge)\n\n"
        ".. theme:example::\n\n    The example below shows how a command reads its options\n"
        "    and prints a greeting for every name it is given on the line.\n",
    )
    drafts = parse_document(tmp_path, "p.rst")
    assert [d for d in drafts if d.kind == "code"] == []
    text = _everything(drafts)
    assert "score = tf * idf" in text and "print(the badge)" in text
    assert "prints a greeting for every name" in text


def test_a_pygments_compound_lexer_reads_as_its_host_language(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "s.rst",
        "Select\n======\n\n.. sourcecode:: pycon+sql\n\n    >>> stmt = select(User)\n\n"
        ".. sourcecode:: python+sql\n\n    session.execute(stmt)\n\n"
        ".. code-block:: c++\n\n    int main() {}\n",
    )
    drafts = parse_document(tmp_path, "s.rst")
    assert [d.language for d in drafts if d.kind == "code"] == ["python", "python", "cpp"]
