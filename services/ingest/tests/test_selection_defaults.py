"""Which files of a source are read: defaults like Context7's, and the owner's config file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from twinmcp.ingest.documents import DocumentError, load_source_config
from twinmcp.ingest.selection import explain_no_documents, select_documents

EVAL = Path(__file__).resolve().parents[3] / "../shared/eval"


def _touch(root: Path, *paths: str) -> None:
    for path in paths:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("# x\n")


def test_translations_changelogs_and_project_files_are_excluded_by_default(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "README.md",
        "README.zh-CN.md",
        "CHANGELOG.md",
        "CONTRIBUTING.md",
        "LICENSE",
        "CODE_OF_CONDUCT.md",
        "requirements.txt",
        "docs/en/docs/index.md",
        "docs/es/docs/index.md",
        "docs/zh-hant/docs/index.md",
        "docs/guide.md",
        "docs/guide.zh.md",
        "docs/guide.ja.md",
        "docs/release-notes.md",
        "docs/history.rst",
        "docs/changes.rst",
        "docs/versionhistory.rst",
        "docs/release-history.md",
        "i18n/fr/intro.md",
        "website/locales/de/intro.md",
        "docs/archive/old-guide.md",
        "docs/legacy/api.md",
        "docs/v1/api.md",
        "node_modules/pkg/README.md",
        ".github/ISSUE_TEMPLATE/bug.md",
        "tests/fixtures/sample.md",
        "build/html/index.html",
        "docs/tutorial/notebook.ipynb",
        "docs/reference.rst",
        "docs/page.mdx",
        "site/crawled/page.html",
        "src/lib.py",
    )
    assert select_documents(tmp_path, load_source_config(tmp_path)) == [
        "README.md",
        "docs/en/docs/index.md",
        "docs/guide.md",
        "docs/page.mdx",
        "docs/reference.rst",
        "docs/tutorial/notebook.ipynb",
        "site/crawled/page.html",
    ]


def test_twinmcp_json_folders_and_excludes_are_honoured(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "README.md",
        "docs/guide.md",
        "docs/internal/notes.md",
        "docs/api/generated.md",
        "docs/skip-me.md",
        "examples/demo.md",
        "other/doc.md",
    )
    (tmp_path / "twinmcp.json").write_text(
        json.dumps(
            {
                "projectTitle": "Demo",
                "folders": ["docs", "./examples"],
                "excludeFolders": ["internal", "docs/api"],
                "excludeFiles": ["skip-me.md"],
                "rules": ["Always close the client."],
            }
        )
    )
    config = load_source_config(tmp_path)
    assert config.project_title == "Demo" and config.rules == ("Always close the client.",)
    assert select_documents(tmp_path, config) == ["README.md", "docs/guide.md", "examples/demo.md"]


def test_config_globs_follow_gitignore_rules_a_star_stays_within_one_folder(
    tmp_path: Path,
) -> None:
    _touch(
        tmp_path,
        "docs/top.md",
        "docs/keep.rst",
        "docs/api/deep.md",
        "docs/api/private/hidden.md",
        "docs/guide/private/also.md",
        "guide/a.md",
        "guide/b/c.md",
        "notes/drafts/x.md",
        "more/notes/drafts/y.md",
    )
    (tmp_path / "context7.json").write_text(
        json.dumps(
            {
                "folders": ["docs", "guide/*", "notes"],
                "excludeFolders": ["docs/*/private", "/notes/drafts"],
                "excludeFiles": ["docs/*.md"],
            }
        )
    )
    config = load_source_config(tmp_path)
    assert select_documents(tmp_path, config) == [
        "docs/api/deep.md",
        "docs/keep.rst",
        "guide/a.md",
        "guide/b/c.md",
    ]


def test_a_config_name_without_a_slash_matches_at_any_depth(tmp_path: Path) -> None:
    _touch(tmp_path, "docs/a.md", "docs/deep/er/skip.md", "docs/deep/keep.md", "docs/x/gen/g.md")
    (tmp_path / "twinmcp.json").write_text(
        json.dumps({"excludeFolders": ["gen"], "excludeFiles": ["skip.md", "**/er/*.md"]})
    )
    config = load_source_config(tmp_path)
    assert select_documents(tmp_path, config) == ["docs/a.md", "docs/deep/keep.md"]


def test_a_config_pattern_git_cannot_read_is_refused_naming_its_key(tmp_path: Path) -> None:
    _touch(tmp_path, "docs/a.md")
    (tmp_path / "twinmcp.json").write_text(json.dumps({"excludeFiles": ["!"]}))
    with pytest.raises(DocumentError, match="excludeFiles has a pattern git cannot read"):
        select_documents(tmp_path, load_source_config(tmp_path))


def test_context7_json_is_read_when_there_is_no_twinmcp_json(tmp_path: Path) -> None:
    _touch(tmp_path, "docs/a.md", "docs/b.md", "guide/c.md")
    (tmp_path / "context7.json").write_text(
        json.dumps(
            {
                "$schema": "https://context7.com/schema/context7.json",
                "description": "A library",
                "excludeFolders": ["guide"],
                "excludeFiles": ["b.md"],
                "previousVersions": [{"tag": "v1.2.1", "title": "1.2"}],
            }
        )
    )
    config = load_source_config(tmp_path)
    assert config.description == "A library"
    assert config.versions[0].tag == "v1.2.1" and config.origin == "context7.json"
    assert select_documents(tmp_path, config) == ["docs/a.md"]


def test_a_malformed_config_names_the_key_that_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "twinmcp.json").write_text(json.dumps({"folders": "docs", "excludeFiles": [3]}))
    with pytest.raises(DocumentError, match="excludeFiles"):
        load_source_config(tmp_path)
    (tmp_path / "twinmcp.json").write_text("{not json")
    with pytest.raises(DocumentError, match="not valid JSON"):
        load_source_config(tmp_path)


def test_symlinks_out_of_the_tree_are_never_selected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _touch(outside, "secret.md", "dir/inner.md")
    root = tmp_path / "root"
    _touch(root, "docs/real.md")
    os.symlink(outside / "secret.md", root / "docs/link.md")
    os.symlink(outside / "dir", root / "docs/linked-dir")
    assert select_documents(root, load_source_config(root)) == ["docs/real.md"]


def test_the_eval_corpora_select_their_docs_without_changelog_or_licence() -> None:
    flask = EVAL / "corpus/pallets__flask"
    selected = select_documents(flask, load_source_config(flask))
    assert "README.md" in selected and "docs/quickstart.rst" in selected
    assert "LICENSE.txt" not in selected and "docs/contributing.rst" not in selected
    fastapi = EVAL / "corpus/fastapi__fastapi"
    selected = select_documents(fastapi, load_source_config(fastapi))
    assert "docs/en/docs/tutorial/cors.md" in selected
    assert not any(path.endswith(".py") for path in selected)


def _sqlalchemy_like_sdist(root: Path) -> None:
    """SQLAlchemy's sdist: built HTML in doc/, the Sphinx sources in doc/build/ beside conf.py."""
    _touch(
        root,
        "README.rst",
        "doc/index.html",
        "doc/orm/session.html",
        "doc/searchindex.js",
        "doc/_static/basic.css",
        "doc/_modules/sqlalchemy/engine.html",
        "doc/build/conf.py",
        "doc/build/index.rst",
        "doc/build/orm/session.rst",
        "doc/build/core/engines.rst",
        "doc/build/changelog/changelog_20.rst",
        "doc/build/output/html/searchindex.js",
        "doc/build/output/html/index.html",
        "doc/build/output/doctrees/index.rst",
        "build/lib/sqlalchemy/README.md",
        "lib/SQLAlchemy.egg-info/SOURCES.txt",
        "site/build/html/index.html",
        "site/build/notes.md",
    )


def test_sphinx_sources_in_a_build_folder_are_read_and_the_generated_html_is_not(
    tmp_path: Path,
) -> None:
    _sqlalchemy_like_sdist(tmp_path)
    expected = [
        "README.rst",
        "doc/build/core/engines.rst",
        "doc/build/index.rst",
        "doc/build/orm/session.rst",
    ]
    assert select_documents(tmp_path, load_source_config(tmp_path)) == expected
    # As a pypi: source lays it out: the documentation folder named in twinmcp.json.
    (tmp_path / "twinmcp.json").write_text(json.dumps({"folders": ["doc"]}))
    assert select_documents(tmp_path, load_source_config(tmp_path)) == expected


def test_a_folder_of_built_html_alone_is_still_read(tmp_path: Path) -> None:
    _touch(tmp_path, "index.html", "guide/start.html", "searchindex.js", "_static/basic.css")
    assert select_documents(tmp_path, load_source_config(tmp_path)) == [
        "guide/start.html",
        "index.html",
    ]


def test_a_build_folder_the_owner_names_in_folders_is_read(tmp_path: Path) -> None:
    _touch(tmp_path, "build/docs/guide.md", "docs/other.md")
    (tmp_path / "twinmcp.json").write_text(json.dumps({"folders": ["build/docs"]}))
    assert select_documents(tmp_path, load_source_config(tmp_path)) == ["build/docs/guide.md"]


def test_a_source_that_yields_nothing_says_which_exclusions_removed_how_many_files(
    tmp_path: Path,
) -> None:
    _touch(
        tmp_path,
        "doc/build/html/index.html",
        "doc/build/html/api.html",
        "doc/build/index.rst",
        "tests/a.md",
        "tests/b.md",
        "tests/c.rst",
        "CHANGELOG.md",
        "src/lib.py",
    )
    assert select_documents(tmp_path, load_source_config(tmp_path)) == []
    message = explain_no_documents(tmp_path, load_source_config(tmp_path))
    assert message.startswith("the source holds no documentation files to read: ")
    assert "2 .html files and 1 .rst file under doc/build were excluded as build output" in message
    assert "2 .md files and 1 .rst file under tests were excluded as tests and fixtures" in message
    assert "1 .md file was excluded as changelogs, licences, translations by name" in message
    assert "twinmcp.json `folders`" in message
    empty = tmp_path / "empty"
    _touch(empty, "src/lib.py")
    assert explain_no_documents(empty, load_source_config(empty)).startswith(
        "the source holds no documentation files (.md, .rst, .html, ...)"
    )
