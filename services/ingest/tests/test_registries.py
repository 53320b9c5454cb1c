"""Registry source strings, release choice, library ids and .d.ts/Python API pages, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from twinmcp.ingest.apiref import write_python_reference, write_typescript_reference
from twinmcp.ingest.errors import InvalidSource
from twinmcp.ingest.fetching.registry import pypi_json_base
from twinmcp.ingest.registries import (
    Registry,
    ReleaseInfo,
    choose_release,
    npm_repository,
    parse_registry_source,
    pypi_repository,
    registry_library_id,
)
from twinmcp.ingest.sources import SourceKind, parse_source

PYPI = Registry.PYPI
NPM = Registry.NPM


def _releases(*versions: str, yanked: tuple[str, ...] = ()) -> list[ReleaseInfo]:
    return [ReleaseInfo(v, is_yanked=v in yanked) for v in versions]


@pytest.mark.parametrize(
    ("source", "registry", "name", "version"),
    [
        ("pypi:flask", PYPI, "flask", ""),
        ("pypi:Flask==3.1.3", PYPI, "Flask", "3.1.3"),
        ("pypi:sqlalchemy>=1.4,<2", PYPI, "sqlalchemy", ">=1.4,<2"),
        ("npm:fastify@4.28.1", NPM, "fastify", "4.28.1"),
        ("npm:@types/node", NPM, "@types/node", ""),
        ("npm:@acme/widgets@^2.1", NPM, "@acme/widgets", "^2.1"),
    ],
)
def test_registry_sources_name_package_and_version(
    source: str, registry: Registry, name: str, version: str
) -> None:
    parsed = parse_registry_source(source)
    assert (parsed.registry, parsed.name, parsed.version) == (registry, name, version)


@pytest.mark.parametrize("source", ["pypi:", "pypi:-rf", "npm:@scope", "npm:a b", "pypi:../x"])
def test_malformed_registry_sources_are_refused_with_the_form_to_use(source: str) -> None:
    with pytest.raises(InvalidSource, match=r"write (pypi|npm):<name>"):
        parse_registry_source(source)


def test_a_version_in_the_source_and_a_different_version_option_conflict() -> None:
    with pytest.raises(InvalidSource, match="give one of them"):
        parse_registry_source("pypi:flask==3.1.3", "3.0.0")
    assert parse_registry_source("pypi:flask==3.1.3", "3.1.3").version == "3.1.3"


def test_registry_sources_parse_as_their_own_kind_with_a_registry_library_id() -> None:
    spec = parse_source("npm:@acme/widgets@1.0.0")
    assert (spec.kind, spec.location, spec.library_id, spec.version) == (
        SourceKind.NPM,
        "npm:@acme/widgets",
        "/npm/acme/widgets",
        "1.0.0",
    )
    assert parse_source("pypi:Zope.Interface").library_id == "/pypi/zope-interface"


def test_no_version_means_newest_release_neither_yanked_nor_prerelease() -> None:
    releases = _releases("1.0.0", "1.1.0", "1.2.0", "2.0.0rc1", "2.0.0.dev3", yanked=("1.2.0",))
    assert choose_release(PYPI, "p", releases, "").version == "1.1.0"
    npm = _releases("1.0.0", "1.1.0", "1.10.0", "2.0.0-beta.1", yanked=("1.10.0",))
    assert choose_release(NPM, "p", npm, "", {"latest": "1.10.0"}).version == "1.1.0"
    assert choose_release(NPM, "p", npm, "", {"latest": "1.0.0"}).version == "1.0.0"
    assert choose_release(NPM, "p", npm, "next", {"next": "2.0.0-beta.1"}).version == (
        "2.0.0-beta.1"
    )


def test_only_prereleases_fall_back_to_the_newest_and_all_yanked_is_refused() -> None:
    assert choose_release(PYPI, "p", _releases("0.1a1", "0.1b2"), "").version == "0.1b2"
    with pytest.raises(InvalidSource, match="yanked or deprecated; name a version"):
        choose_release(PYPI, "p", _releases("1.0", yanked=("1.0",)), "")


def test_exact_pins_and_ranges_pick_the_matching_release() -> None:
    pypi = _releases("1.3.24", "1.4.0", "1.4.52", "2.0.0", "2.0.1")
    assert choose_release(PYPI, "p", pypi, "==1.4.52").version == "1.4.52"
    assert choose_release(PYPI, "p", pypi, ">=1.4,<2").version == "1.4.52"
    assert choose_release(PYPI, "p", pypi, "~=2.0").version == "2.0.1"
    assert choose_release(PYPI, "p", _releases("3.1.0"), "3.1").version == "3.1.0"
    npm = _releases("4.2.0", "4.28.1", "4.29.0-rc.1", "5.0.0", "5.1.2")
    assert choose_release(NPM, "p", npm, "^4.2").version == "4.28.1"
    assert choose_release(NPM, "p", npm, "4.x").version == "4.28.1"
    assert choose_release(NPM, "p", npm, "~5.0.0").version == "5.0.0"
    assert choose_release(NPM, "p", npm, "v5.1.2").version == "5.1.2"


def test_a_missing_release_is_refused_naming_the_newest_ones() -> None:
    with pytest.raises(InvalidSource, match=r"no release '3\.0\.3'; the newest are 3\.1\.3"):
        choose_release(PYPI, "flask", _releases("3.1.2", "3.1.3"), "==3.0.3")


def test_library_id_is_the_github_repository_unless_the_package_is_part_of_a_monorepo() -> None:
    urls = {
        "Documentation": "https://flask.example/",
        "Source": "https://github.com/pallets/flask/",
    }
    assert pypi_repository(urls, "") == "/pallets/flask"
    assert pypi_repository({"Homepage": "https://github.com/o/r/tree/main/libs/x"}, "") == ""
    assert pypi_repository({"Homepage": "https://gitlab.com/o/r"}, "") == ""
    assert npm_repository({"type": "git", "url": "git+https://github.com/fastify/fastify.git"}) == (
        "/fastify/fastify"
    )
    assert npm_repository("github:sindresorhus/is") == "/sindresorhus/is"
    assert npm_repository("expressjs/express") == "/expressjs/express"
    assert npm_repository("git@github.com:o/r.git") == "/o/r"
    monorepo = {"type": "git", "url": "https://github.com/babel/babel", "directory": "packages/x"}
    assert npm_repository(monorepo) == ""
    assert registry_library_id(NPM, "@babel/core") == "/npm/babel/core"


def test_the_json_api_base_is_derived_from_a_simple_index_url() -> None:
    assert pypi_json_base("https://mirror.example/simple/") == "https://mirror.example"
    assert pypi_json_base("https://mirror.example/root/pypi/+simple") == (
        "https://mirror.example/root/pypi"
    )
    assert pypi_json_base("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_declaration_pages_hold_each_export_with_its_doc_comment(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib/client.d.ts").write_text(
        "/** A client for the queue. */\n"
        "export declare class Client<T extends { id: string }> {\n"
        "  /** Sends one message; resolves when it is stored. */\n"
        "  send(message: T, options?: { retries: number }): Promise<void>;\n"
        "  close(): void;\n"
        "}\n"
        "/**\n * Connects.\n * @param url - where the queue listens\n */\n"
        "export function connect(url: string): Client<{ id: string }>\n"
        "export default interface Defaults { timeout: number }\n"
        "declare function internal(): void;\n"
    )
    (tmp_path / "node_modules/dep").mkdir(parents=True)
    (tmp_path / "node_modules/dep/index.d.ts").write_text("export declare const x: 1;\n")
    written = write_typescript_reference(tmp_path, "queue", tmp_path / "api", 1 << 20)
    assert written == ["lib/client.md"]
    page = (tmp_path / "api/lib/client.md").read_text()
    assert page.startswith("# API reference: queue/lib/client\n")
    assert "## class Client" in page and "A client for the queue." in page
    assert (
        "send(message: T, options?: { retries: number }): Promise<void>;\n  close(): void;\n}"
        in page
    )
    assert (
        "## function connect" in page
        and "export function connect(url: string): Client<{ id: string }>\n```" in page
    )
    assert "- `url`: where the queue listens" in page
    assert "## interface Defaults" in page
    assert "internal" not in page


def test_python_pages_come_from_the_source_without_running_it(tmp_path: Path) -> None:
    package = tmp_path / "src/boom"
    package.mkdir(parents=True)
    marker = tmp_path / "ran"
    (package / "__init__.py").write_text(
        f'"""Boom."""\nopen({str(marker)!r}, "w").write("imported")\n'
    )
    (package / "blast.py").write_text(
        '"""Blasts."""\n\nclass Fuse:\n    """Lit before a blast."""\n\n'
        "    async def light(self, seconds: float = 1.0) -> None:\n"
        '        """Lights the fuse."""\n'
    )
    (package / "broken.py").write_text("def oops(:\n")
    (package / "wire.py").write_text(
        '"""Wires."""\n\ndef cut(length: int) -> None: ...\n\nclass Spool:\n    pass\n'
    )
    written = write_python_reference(tmp_path, "boom", tmp_path / "api", 1 << 20)
    assert sorted(written) == ["boom.blast.md", "boom.md", "boom.wire.md"]
    assert not marker.exists()
    page = (tmp_path / "api/boom.blast.md").read_text()
    assert "## class boom.blast.Fuse" in page and "Lit before a blast." in page
    assert "async def light(self, seconds: float = 1.0) -> None" in page or (
        "async def light(seconds: float = 1.0) -> None" in page
    )
    # Objects without a docstring share one section of signatures, not a snippet each.
    wire = (tmp_path / "api/boom.wire.md").read_text()
    assert wire.count("## ") == 1
    assert "## Undocumented in boom.wire" in wire
    assert "def cut(length: int) -> None" in wire and "class Spool:" in wire


def test_a_repository_spelled_in_another_case_is_the_same_library() -> None:
    # PyPI's metadata says "Kludex/starlette", people type kludex/starlette: GitHub ignores
    # case, library ids are compared exactly, so both must give one id.
    assert pypi_repository({"Source": "https://github.com/Kludex/starlette"}, "") == (
        "/kludex/starlette"
    )
    assert npm_repository("github:Microsoft/TypeScript") == "/microsoft/typescript"
    assert parse_source("https://github.com/Kludex/Starlette").library_id == "/kludex/starlette"
    # An id the caller gives is kept as given.
    given = parse_source("https://github.com/Kludex/starlette", library_id="/Kludex/starlette")
    assert given.library_id == "/Kludex/starlette"
