"""The held-out corpus tool: pinned archives, safe extraction, frozen questions that hold."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from bench import heldout_corpus
from bench.eval import _matches, make_run_installs_model
from bench.heldout_corpus import (
    CorpusError,
    Release,
    check_questions,
    extract_docs,
    fetch_archive,
    glob_pattern,
    load_manifest,
    load_rows,
    sha256_of,
)


def release(**overrides: object) -> Release:
    fields: dict[str, object] = {
        "library": "acme/widgets",
        "registry": "pypi",
        "package": "widgets",
        "version": "1.0",
        "archive": "widgets-1.0.tar.gz",
        "sha256": "0" * 64,
        "doc_globs": ("README.md", "docs/**/*.md"),
        "exclude_globs": ("docs/changes.md",),
        "identity_globs": ("pyproject.toml",),
    }
    fields.update(overrides)
    return Release(**fields)  # type: ignore[arg-type]


def add_file(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def test_a_double_star_glob_matches_any_depth_and_a_single_star_one_segment() -> None:
    pattern = glob_pattern("docs/**/*.md")
    assert pattern.match("docs/index.md")
    assert pattern.match("docs/guide/deep/page.md")
    assert not pattern.match("docs/index.rst")
    assert not pattern.match("src/docs/index.md")
    assert not glob_pattern("*.md").match("docs/index.md")


def test_extraction_writes_only_selected_regular_files_inside_the_corpus_folder(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "widgets-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_file(tar, "widgets-1.0/README.md", "# Widgets")
        add_file(tar, "widgets-1.0/pyproject.toml", "[project]\nname = 'widgets'\n")
        add_file(tar, "widgets-1.0/docs/index.md", "# Index")
        add_file(tar, "widgets-1.0/docs/guide/usage.md", "# Usage")
        add_file(tar, "widgets-1.0/docs/changes.md", "# Changes")
        add_file(tar, "widgets-1.0/src/widgets.py", "x = 1")
        add_file(tar, "widgets-1.0/docs/../../../escaped.md", "escaped")
        add_file(tar, "/widgets-1.0/docs/absolute.md", "absolute")
        add_link(tar, "widgets-1.0/docs/link.md", "/etc/passwd")
    dest = tmp_path / "corpus" / "acme__widgets"

    files, size = extract_docs(release(), archive, dest)

    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert written == ["README.md", "docs/guide/usage.md", "docs/index.md", "pyproject.toml"]
    assert files == 4
    assert size == sum((dest / name).stat().st_size for name in written)
    assert not (tmp_path / "escaped.md").exists()
    assert not list(tmp_path.rglob("absolute.md"))


def test_extraction_of_an_archive_with_no_matching_file_says_to_fix_the_globs(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "widgets-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_file(tar, "widgets-1.0/src/widgets.py", "x = 1")

    with pytest.raises(CorpusError, match="fix the doc globs"):
        extract_docs(release(), archive, tmp_path / "out")


def test_an_archive_whose_sha256_differs_from_the_pin_is_refused_and_deleted(
    tmp_path: Path,
) -> None:
    archives = tmp_path / "archives"
    archives.mkdir()
    cached = archives / "widgets-1.0.tar.gz"
    cached.write_bytes(b"not the pinned bytes")

    with pytest.raises(CorpusError, match="sha256"):
        fetch_archive(release(), tmp_path)
    assert not cached.exists()


def test_an_archive_matching_its_pin_is_used_from_the_cache(tmp_path: Path) -> None:
    archives = tmp_path / "archives"
    archives.mkdir()
    cached = archives / "widgets-1.0.tar.gz"
    cached.write_bytes(b"pinned bytes")

    found = fetch_archive(release(sha256=sha256_of(cached)), tmp_path)

    assert found == cached


def test_a_must_string_absent_from_every_expect_file_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "acme__widgets" / "docs"
    folder.mkdir(parents=True)
    (folder / "index.md").write_text("Use `widgets.spin(fast=True)` to spin.")
    row = {
        "id": "widgets-01",
        "library": "acme/widgets",
        "query": "spin quickly",
        "expect_files": ["docs/index.md"],
        "kind": "howto",
    }

    good = check_questions([{**row, "must_contain_any": ["fast=True"]}], tmp_path)
    bad = check_questions([{**row, "must_contain_any": ["slow=True"]}], tmp_path)

    assert good == []
    assert bad == ["widgets-01: 'slow=True' occurs in none of its expect_files"]


def test_the_frozen_questions_cover_each_manifest_library_twenty_times() -> None:
    rows = load_rows(heldout_corpus.QUESTIONS)
    libraries = {r.library for r in load_manifest()}

    assert Counter(str(r["library"]) for r in rows) == {lib: 20 for lib in libraries}
    assert len({r["id"] for r in rows}) == len(rows)
    assert {str(r["kind"]) for r in rows} == heldout_corpus.KINDS
    assert heldout_corpus.check_resolution(load_rows(heldout_corpus.RESOLUTION)) == []


def test_documented_resolution_cases_expect_the_ids_the_held_out_libraries_are_ingested_under() -> (
    None
):
    ids = {r.library_id for r in load_manifest()}
    documented = [r for r in load_rows(heldout_corpus.RESOLUTION) if r["documented"]]

    expected = [r["expect"] for r in documented]
    assert expected and all(isinstance(e, list) for e in expected)
    assert all({str(e) for e in row} <= ids for row in expected if isinstance(row, list))


def test_the_manifest_names_no_registry_host() -> None:
    text = heldout_corpus.MANIFEST.read_text()

    assert "://" not in text
    assert all(len(r.sha256) == 64 for r in load_manifest())
    json.loads(text)


@pytest.mark.parametrize(
    ("prerequisites", "expected"),
    [("install", False), ("install-model", True), ("$(MODEL_STAMP) install", True)],
)
def test_eval_reads_from_the_makefile_whether_make_run_installs_the_model(
    tmp_path: Path, prerequisites: str, expected: bool
) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"install:\n\ttrue\n\nrun: {prerequisites}\n\ttwinmcp up\n")

    assert make_run_installs_model(makefile) is expected


def test_the_catalog_entry_of_a_package_does_not_pass_for_its_documented_library() -> None:
    catalog_click: dict[str, object] = {
        "id": "/pypi/click",
        "title": "click",
        "packageNames": ["click"],
    }

    assert not _matches(catalog_click, ["/pallets/click"])
    assert _matches({"id": "/pallets/click", "title": "Click"}, ["/pallets/click"])


def test_a_catalog_package_expected_first_matches_its_registry_id_title_or_package_names() -> None:
    assert _matches({"id": "/pypi/polars", "title": ""}, ["polars"])
    assert _matches({"id": "/npm/x", "title": "@nestjs/core"}, ["@nestjs/core"])
    assert _matches({"id": "/pallets/click", "packageNames": ["click"]}, ["click"])
    assert not _matches({"id": "/pypi/opencc", "title": "opencc"}, ["opencv-python"])
    assert not _matches({}, ["polars"])
