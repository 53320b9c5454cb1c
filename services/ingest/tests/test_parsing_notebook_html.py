"""Notebooks and crawled HTML pages become the same kind of snippets as Markdown."""

from __future__ import annotations

import json
from pathlib import Path

from twinmcp.ingest.chunking import parse_document


def test_notebook_cells_become_prose_and_code_with_short_outputs(tmp_path: Path) -> None:
    notebook = {
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "cells": [
            {"cell_type": "markdown", "source": ["# Quick tour\n", "\n", "Load the data first."]},
            {
                "cell_type": "code",
                "source": ["import pandas as pd\n", "print(pd.__version__)"],
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["2.2.0\n"]}],
            },
            {"cell_type": "code", "source": "", "outputs": []},
        ],
    }
    (tmp_path / "tour.ipynb").write_text(json.dumps(notebook))
    drafts = parse_document(tmp_path, "tour.ipynb")
    assert len(drafts) == 1
    code = drafts[0]
    assert code.kind == "code" and code.language == "python"
    assert code.content == "import pandas as pd\nprint(pd.__version__)\n# Output:\n# 2.2.0"
    assert code.description == "Load the data first."
    assert code.breadcrumb == ("Quick tour",)


def test_crawled_html_keeps_the_article_and_drops_site_chrome(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Retries | Docs</title><script>var tracking = 1;</script></head><body>"
        "<header><a href='/'>Home</a> Menu</header><nav class='sidebar'><ul><li>Other "
        "page</li></ul></nav>"
        "<main><article><h1>Retries</h1><p>Retry failed requests with a <a "
        "href='/x'>transport</a>.</p>"
        "<h2 id='config'>Configure</h2><p>Set the count:</p>"
        "<pre><code class='language-python'>transport = Transport(retries=3)</code></pre>"
        "<div class='edit-this-page'>Edit this page</div></article></main>"
        "<footer>Copyright 2024</footer></body></html>"
    )
    drafts = parse_document(tmp_path, "page.html")
    text = "\n".join(d.description + "\n" + d.content for d in drafts)
    for chrome in ("tracking", "Home", "Other page", "Copyright", "Edit this page", "Menu"):
        assert chrome not in text
    assert "Retry failed requests with a transport." in text
    code = [d for d in drafts if d.kind == "code"]
    assert code[0].content == "transport = Transport(retries=3)"
    assert code[0].language == "python"
    assert code[0].description == "Set the count:"
    assert code[0].breadcrumb == ("Retries", "Configure")
