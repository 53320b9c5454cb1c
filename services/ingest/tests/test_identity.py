"""Library identity read at ingest: one test per kind of source, and the whole of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twinmcp.ingest.documents import DocumentError, SourceConfig, parse_source_config
from twinmcp.ingest.identity import (
    Package,
    count_example_imports,
    imports_of,
    most_imported,
    opening_prose,
    parse_packages,
    read_about,
    read_identity,
    read_landing_titles,
    read_manifests,
    read_site_titles,
)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def hono_website(root: Path) -> Path:
    """A docs repository named `website` whose pages, config and examples say Hono."""
    return _tree(
        root,
        {
            "package.json": '{"name": "hono-website", "private": true}',
            ".vitepress/config.ts": (
                "import { defineConfig } from 'vitepress'\n"
                "export default defineConfig({\n"
                "  title: 'Hono',\n"
                "  description: 'Web framework built on Web Standards',\n"
                "  themeConfig: {\n"
                "    sidebar: [{ title: 'Guides', items: [] }],\n"
                "  },\n"
                "})\n"
            ),
            "index.md": "---\nlayout: home\nhero:\n  name: Hono\n  text: Web framework\n---\n",
            "docs/index.md": (
                "# Hono\n\nHono is a small, simple, and ultrafast web framework.\n\n"
                "```ts\nimport { Hono } from 'hono'\nconst app = new Hono()\n"
                "app.get('/', (c) => c.text('Hello Hono!'))\n```\n"
            ),
            "docs/guides/middleware.md": (
                "# Middleware\n\n```ts\nimport { Hono } from 'hono'\n"
                "import { logger } from 'hono/logger'\n"
                "import { readFile } from 'node:fs/promises'\n"
                "import { helper } from './helper'\n```\n\n"
                "```ts\nimport { serve } from '@hono/node-server'\n"
                "import { Hono } from 'hono'\n```\n"
            ),
            "docs/api/routing.md": (
                "# Routing\n\n```ts\nimport { Hono } from 'hono'\nconst app = new Hono()\n```\n"
            ),
        },
    )


DOCS = ["index.md", "docs/index.md", "docs/guides/middleware.md", "docs/api/routing.md"]


def test_a_docs_repository_named_website_is_identified_by_its_pages_config_and_examples(
    tmp_path: Path,
) -> None:
    identity = read_identity(hono_website(tmp_path), SourceConfig(), DOCS, "/honojs/website")
    assert identity.title == "Hono"
    assert identity.packages == (Package("npm", "hono"),)
    assert any("imported by the code examples" in line for line in identity.evidence)


# --- twinmcp.json ---------------------------------------------------------------------------


def test_the_owners_config_names_the_title_and_packages_in_either_spelling(
    tmp_path: Path,
) -> None:
    config = parse_source_config(
        '{"projectTitle": "Hono", "packages": ["npm:hono", '
        '{"registry": "jsr", "name": "@hono/hono"}, "npm:@hono/node-server"]}'
    )
    # The owner's list is authoritative: a manifest naming another package does not add it.
    _tree(tmp_path, {"package.json": '{"name": "something-else"}'})
    identity = read_identity(tmp_path, config, [], "/honojs/website")
    assert identity.title == "Hono"
    assert identity.packages == (
        Package("npm", "hono"),
        Package("jsr", "@hono/hono"),
        Package("npm", "@hono/node-server"),
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("npm:hono", "must be a list"),
        ([42], 'must be a "registry:name" string'),
        (["Not A Registry!:x"], "is not a registry name"),
        (["npm:has space"], "is not a package name"),
        ([{"registry": "npm"}], "needs a string 'name'"),
    ],
)
def test_a_malformed_packages_list_is_refused_naming_what_is_wrong(value: Any, says: str) -> None:
    with pytest.raises(DocumentError, match=says):
        parse_packages(value, "twinmcp.json")


def test_a_package_without_a_registry_is_kept_without_one() -> None:
    assert parse_packages(["flask"], "twinmcp.json") == (Package("", "flask"),)


# --- manifests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("package.json", '{"name": "hono", "description": "Web framework"}', ("npm", "hono")),
        ("pyproject.toml", '[project]\nname = "flask"\n', ("pypi", "flask")),
        ("pyproject.toml", '[tool.poetry]\nname = "typer"\n', ("pypi", "typer")),
        ("setup.cfg", "[metadata]\nname = click\n", ("pypi", "click")),
        ("Cargo.toml", '[package]\nname = "serde"\nversion = "1.0.0"\n', ("crates", "serde")),
        (
            "go.mod",
            "module github.com/gin-gonic/gin\n\ngo 1.21\n",
            ("go", "github.com/gin-gonic/gin"),
        ),
        ("composer.json", '{"name": "laravel/framework"}', ("packagist", "laravel/framework")),
        ("pubspec.yaml", "name: provider\nversion: 6.0.0\n", ("pub", "provider")),
    ],
)
def test_each_kind_of_manifest_names_its_package(
    tmp_path: Path, name: str, text: str, expected: tuple[str, str]
) -> None:
    _tree(tmp_path, {name: text})
    assert [m.package for m in read_manifests(tmp_path)] == [Package(*expected)]


def test_setup_py_is_read_without_being_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _tree(
        tmp_path,
        {
            "setup.py": (
                "from pathlib import Path\n"
                f"Path({str(marker)!r}).write_text('ran')\n"
                "from setuptools import setup\n"
                "setup(name='httpx', description='The next generation HTTP client.')\n"
            )
        },
    )
    manifests = read_manifests(tmp_path)
    assert [m.package for m in manifests] == [Package("pypi", "httpx")]
    assert manifests[0].description == "The next generation HTTP client."
    assert not marker.exists()


def test_a_private_package_json_names_no_package(tmp_path: Path) -> None:
    _tree(tmp_path, {"package.json": '{"name": "vuejs.org", "private": true}'})
    assert read_manifests(tmp_path) == []


def test_hostile_nesting_in_any_file_reads_as_saying_nothing(tmp_path: Path) -> None:
    deep = 50_000
    _tree(
        tmp_path,
        {
            "package.json": "[" * deep,
            "pyproject.toml": "a = " + "[" * deep,
            "setup.py": "x = " + "(" * deep + ")" * deep,
            "docs/conf.py": "project = " + "[" * deep + "]" * deep,
            "index.md": "---\ntitle: " + "[" * deep + "\n---\n# Real\n",
        },
    )
    identity = read_identity(tmp_path, SourceConfig(), ["index.md"])
    assert identity.packages == () and identity.title == "Real"


# --- site configs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "mkdocs.yml",
            "site_name: FastAPI\nmarkdown_extensions:\n  - pymdownx.superfences:\n"
            "      custom_fences:\n"
            "        - format: !!python/name:pymdownx.superfences.fence_code\n",
            "FastAPI",
        ),
        ("docs/conf.py", 'import os\nproject = "Flask"\ncopyright = "2010"\n', "Flask"),
        (".vitepress/config.mts", "export default {\n  title: 'Vue.js',\n}\n", "Vue.js"),
        (
            "website/docusaurus.config.js",
            "const config = {\n  title: 'Jest',\n  tagline: 'Delightful JavaScript Testing',\n"
            "  themeConfig: {\n    navbar: {\n      title: 'Jest Navbar',\n    },\n  },\n};\n",
            "Jest",
        ),
        (
            "astro.config.mjs",
            "export default defineConfig({\n  integrations: [\n    starlight({\n"
            "      title: 'Starlight Docs',\n    }),\n  ],\n});\n",
            "Starlight",
        ),
        (
            "book.toml",
            '[book]\ntitle = "The Rust Programming Language"\n',
            "The Rust Programming Language",
        ),
    ],
)
def test_each_kind_of_site_config_names_the_site(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    _tree(tmp_path, {name: text})
    assert [n.text for n in read_site_titles(tmp_path)] == [expected]


def test_the_site_config_describes_the_library_when_no_manifest_does(tmp_path: Path) -> None:
    identity = read_identity(hono_website(tmp_path), SourceConfig(), DOCS, "/honojs/website")
    assert identity.description == "Web framework built on Web Standards"
    _tree(tmp_path, {"mkdocs.yml": "site_name: Hono\nsite_description: 'Ultrafast'\n"})
    assert read_identity(tmp_path, SourceConfig(), DOCS).description == "Ultrafast"


def test_sphinx_conf_py_is_read_without_being_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _tree(
        tmp_path,
        {"docs/conf.py": (f"open({str(marker)!r}, 'w').write('ran')\nproject = 'SQLAlchemy'\n")},
    )
    assert [n.text for n in read_site_titles(tmp_path)] == ["SQLAlchemy"]
    assert not marker.exists()


# --- landing pages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("index.md", "---\nlayout: home\nhero:\n  name: Hono\n---\n", ["Hono"]),
        (
            "src/index.md",
            "---\ntitle: Vue.js - The Progressive JavaScript Framework\n---\n<Home />\n",
            ["Vue.js"],
        ),
        ("docs/index.md", "# Welcome to Pydantic documentation\n\nText.\n", ["Pydantic"]),
        (
            "README.md",
            '<h1 align="center">\n  <img src="logo.png">\n</h1>\n\n# Express\n',
            ["Express"],
        ),
        ("docs/index.rst", ".. _top:\n\nClick\n=====\n\nClick is a package.\n", ["Click"]),
        ("docs/index.md", "# Introduction\n\nText.\n", []),
        ("llms.md", "# Hono\n\n> Web framework\n\n- [Docs](https://hono.dev/docs)\n", ["Hono"]),
        ("0000-hono-web-framework.md", "# Hono - Web framework built on Web Standards\n", ["Hono"]),
    ],
)
def test_the_landing_page_names_the_library_by_its_title_or_first_heading(
    tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    _tree(tmp_path, {name: text})
    assert [n.text for n in read_landing_titles(tmp_path, [name])] == expected


def test_section_index_pages_and_heading_attributes_do_not_name_the_library(
    tmp_path: Path,
) -> None:
    pages = {
        "docs/en/docs/index.md": "# FastAPI { #fastapi }\n\nText.\n",
        "docs/en/docs/deployment/index.md": "# Deployment { #deployment }\n",
        "docs/en/docs/tutorial/index.md": "# Tutorial - User Guide\n",
    }
    _tree(tmp_path, pages)
    assert [n.text for n in read_landing_titles(tmp_path, list(pages))] == ["FastAPI"]


def test_a_docs_websites_own_package_json_is_not_the_library(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".vitepress/config.ts": "export default { title: 'Vue.js' }\n",
            "package.json": '{"name": "vuejs.org", "scripts": {"dev": "vitepress"}}',
        },
    )
    assert read_manifests(tmp_path) == []
    (tmp_path / "package.json").write_text('{"name": "vitepress", "main": "dist/index.js"}')
    assert [m.package for m in read_manifests(tmp_path)] == [Package("npm", "vitepress")]


# --- code examples --------------------------------------------------------------------------


def test_javascript_imports_leave_out_relative_paths_builtins_and_aliases() -> None:
    code = (
        "import { Hono } from 'hono'\n"
        "import { jwt } from 'hono/jwt'\n"
        "import fs from 'fs'\n"
        "import { readFile } from 'node:fs/promises'\n"
        "import { x } from './x'\n"
        "import Layout from '@theme/Layout'\n"
        "import { zValidator } from '@hono/zod-validator'\n"
        "const express = require('express')\n"
        "import { Hono as H } from 'npm:hono@4'\n"
    )
    assert imports_of(code, "ts") == [
        Package("npm", "hono"),
        Package("npm", "hono"),
        Package("npm", "@hono/zod-validator"),
        Package("npm", "express"),
        Package("npm", "hono"),
    ]


def test_python_imports_leave_out_the_standard_library_and_relative_imports() -> None:
    code = (
        "import os, sys\n"
        "from typing import Any\n"
        "import click\n"
        "from flask import Flask\n"
        "from . import views\n"
        ">>> import yaml\n"
        "import numpy as np\n"
    )
    assert imports_of(code, "python") == [
        Package("pypi", "flask"),
        Package("pypi", "click"),
        Package("pypi", "pyyaml"),
        Package("pypi", "numpy"),
    ]


def test_other_languages_imports_are_not_packages() -> None:
    assert imports_of('import "fmt"\n', "go") == []
    assert imports_of("import java.util.List;\n", "java") == []


def test_the_package_named_like_the_library_wins_over_a_more_imported_framework(
    tmp_path: Path,
) -> None:
    block = "```jsx\nimport React from 'react'\nimport { useForm } from 'react-hook-form'\n```\n"
    extra = "```jsx\nimport React from 'react'\n```\n"
    _tree(tmp_path, {"a.md": block * 3 + extra * 3})
    counts = count_example_imports(tmp_path, ["a.md"])
    assert counts[Package("npm", "react")] > counts[Package("npm", "react-hook-form")]
    assert most_imported(counts, ["React Hook Form"]) == Package("npm", "react-hook-form")


def test_no_package_is_chosen_when_none_clearly_leads() -> None:
    counts: Counter[Package] = Counter({Package("npm", "a"): 3, Package("npm", "b"): 3})
    assert most_imported(counts) is None
    assert most_imported(Counter({Package("npm", "a"): 1})) is None
    assert most_imported(Counter({Package("npm", "a"): 5, Package("npm", "b"): 3})) is None
    assert most_imported(Counter({Package("npm", "a"): 4, Package("npm", "b"): 2})) == Package(
        "npm", "a"
    )


def test_rst_literal_blocks_and_doctests_count_as_examples(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "docs/quickstart.rst": (
                "Quickstart\n==========\n\n.. code-block:: python\n\n"
                "    import click\n\n    @click.command()\n    def hello(): ...\n\n"
                "::\n\n    >>> from click.testing import CliRunner\n"
            )
        },
    )
    counts = count_example_imports(tmp_path, ["docs/quickstart.rst"])
    assert counts[Package("pypi", "click")] == 2


# --- about: what the README says the library is ------------------------------------------

BADGED_README = """<p align="center">
  <a href="https://example.org"><img src="https://example.org/logo.png" alt="Webkit"></a>
</p>
<p align="center"><em>The little toolkit that routes.</em></p>

[![CI](https://example.org/ci.svg)](https://example.org/ci)
[![Package
version](https://example.org/v.svg)](https://example.org/p)

---

**Documentation**: [https://webkit.example.org](https://webkit.example.org)

---

# Webkit

Webkit is a **lightweight** [WSGI][wsgi] toolkit,
ideal for building `async` web services.

* Request routing.
* Session and cookie support.

[wsgi]: https://wsgi.example.org

## Installation

Webkit installs with pip.

```shell
$ pip install webkit
```
"""


def test_the_opening_prose_leaves_out_badges_markup_links_and_what_follows_the_intro() -> None:
    assert opening_prose(BADGED_README) == (
        "The little toolkit that routes. Webkit is a lightweight WSGI toolkit, ideal for "
        "building async web services. Request routing. Session and cookie support."
    )


def test_the_opening_prose_of_restructured_text_skips_substitutions_and_stops_at_code() -> None:
    readme = (
        "*******************************\nmarsh: simplified serialization\n"
        "*******************************\n\n|pypi| |docs|\n\n"
        ".. |pypi| image:: https://example.org/v.svg\n    :target: https://example.org/p\n\n"
        "**marsh** is a library for converting objects\nto and from native datatypes.\n\n"
        ".. code-block:: python\n\n    from marsh import Schema\n\nMore prose after code.\n"
    )
    # The title says more than a name (a tagline): it is part of what the page says.
    assert opening_prose(readme) == (
        "marsh: simplified serialization marsh is a library for converting objects to and "
        "from native datatypes."
    )
    assert opening_prose("Flask\n=====\n\nFlask is a web framework.\n") == (
        "Flask is a web framework."
    )


def test_the_opening_prose_is_cut_at_a_word_near_the_limit_and_empty_without_prose() -> None:
    long = "# Big\n\n" + " ".join(f"word{n}" for n in range(400)) + "\n"
    cut = opening_prose(long, limit=100)
    assert len(cut) <= 100 and cut.startswith("word0 word1") and not cut.endswith(" ")
    assert opening_prose(long, limit=100).split()[-1] in long.split()
    assert opening_prose("# Title\n\n```py\nx = 1\n```\n\n[![b](u)](v)\n") == ""
    assert opening_prose("---\ntitle: Front\n---\n\nBody text has words.\n") == (
        "Body text has words."
    )


@pytest.mark.parametrize("mark", ["<!--", "<", "[", "![", "![](", "[x](", "("])
def test_a_readme_of_unclosed_marks_says_nothing_and_keeps_the_prose_before(mark: str) -> None:
    # (The patterns stop at the next opening mark, so such text is read in one pass: before,
    # 20,000 characters of "[" took 1.5 s, rescanned from every mark. Not timed here.)
    text = mark * (20_000 // len(mark))
    assert opening_prose(text) == ""
    assert opening_prose(f"Webkit routes requests well. {text}").startswith("Webkit routes")


@pytest.mark.parametrize(
    ("text", "titles"),
    [("<h1" * 100_000, ["Webkit"]), ("<h1>" * 100_000, ["Webkit"]), ("# " + "[" * 300_000, [])],
)
def test_unclosed_marks_on_a_landing_page_do_not_hide_its_title(
    tmp_path: Path, text: str, titles: list[str]
) -> None:
    # (Read in one pass: 90 KB of unclosed "<h1" took 1.5 s before, growing with the square
    # of the size. Not timed here.) A first heading of marks alone names nothing.
    root = _tree(tmp_path, {"docs/index.md": text + "\n\n<h1>Webkit</h1>\n"})
    assert [name.text for name in read_landing_titles(root, ["docs/index.md"])] == titles
    assert read_about(root, ["docs/index.md"])[0] == ""


def test_the_about_comes_from_the_readme_else_the_landing_page(tmp_path: Path) -> None:
    with_readme = _tree(
        tmp_path / "a",
        {"README.md": BADGED_README, "docs/index.md": "# Docs\n\nThe docs landing page.\n"},
    )
    about, origin = read_about(with_readme, ["docs/index.md"])
    assert origin == "README.md" and about.startswith("The little toolkit that routes.")
    site = _tree(tmp_path / "b", {"docs/index.md": "# Docs\n\nThe docs landing page.\n"})
    assert read_about(site, ["docs/index.md"]) == ("The docs landing page.", "docs/index.md")
    assert read_about(tmp_path / "b", []) == ("", "")


# --- through a real ingest job --------------------------------------------------------------


async def test_an_ingested_folder_sends_its_identity_to_the_index(
    tmp_path: Path, harness: Callable[..., Any]
) -> None:
    h = await harness()
    folder = hono_website(tmp_path / "website")
    job = await h.ingest(str(folder), library_id="/honojs/website")
    assert job.error == ""
    begin = next(request for name, request in h.fake.calls if name == "BeginBuild")
    library = begin.library
    assert library.title == "Hono"
    assert [(p.registry, p.name) for p in library.packages] == [("npm", "hono")]
    assert list(library.package_names) == ["hono"]
    assert library.about == "Hono is a small, simple, and ultrafast web framework."
