"""The third held-out set: frozen files that hold, and no library shared with another set."""

from __future__ import annotations

import json
from collections import Counter

from bench import heldout_corpus
from bench.eval import (
    SET_CHOICES,
    SET_TITLES,
    questions_of,
    registry_sources_of,
    resolution_cases_of,
)
from bench.heldout_corpus import HELDOUT_SETS, load_rows

SET3 = HELDOUT_SETS["heldout3"]
DEV = {"fastapi/fastapi", "pallets/flask", "encode/httpx", "pydantic/pydantic"}


def test_set_three_is_registered_with_its_frozen_files() -> None:
    assert SET3.folder.name == "heldout3"
    assert SET3.title == SET_TITLES["heldout3"] == "held-out 3"
    assert SET3.questions.name == "questions-2026-12-06.jsonl"
    assert SET3.resolution.name == "resolution-2026-12-06.jsonl"
    assert all(path.is_file() for path in (SET3.manifest, SET3.questions, SET3.resolution))
    assert "heldout3" in SET_CHOICES["all"]


def test_set_three_has_twenty_questions_per_manifest_library_of_every_kind() -> None:
    rows = load_rows(SET3.questions)
    libraries = {r.library for r in SET3.releases()}

    assert libraries == {"agronholm/anyio", "hynek/structlog", "urllib3/urllib3", "nodejs/undici"}
    assert Counter(str(r["library"]) for r in rows) == {lib: 20 for lib in libraries}
    assert len({r["id"] for r in rows}) == len(rows) == 80
    assert {str(r["kind"]) for r in rows} == heldout_corpus.KINDS
    assert len(questions_of("heldout3")) == 80


def test_set_three_shares_no_library_package_or_folder_with_the_other_sets() -> None:
    others = [s for name, s in HELDOUT_SETS.items() if name != "heldout3"]
    mine = SET3.releases()

    for other in others:
        theirs = other.releases()
        assert not {r.library for r in mine} & {r.library for r in theirs}
        assert not {r.package for r in mine} & {r.package for r in theirs}
        assert not {r.folder_name for r in mine} & {r.folder_name for r in theirs}
    assert not {r.library for r in mine} & DEV


def test_set_three_resolution_cases_cover_every_library_and_the_catalog() -> None:
    rows = load_rows(SET3.resolution)
    ids = {r.library_id for r in SET3.releases()}
    documented = [r for r in rows if r["documented"]]
    expected = [{str(e) for e in r["expect"]} for r in documented]  # type: ignore[attr-defined]

    assert heldout_corpus.check_resolution(rows) == []
    assert len(documented) == 20 and len(rows) == 32
    assert all(e <= ids for e in expected) and set().union(*expected) == ids
    assert {c.kind.split()[0] for c in resolution_cases_of("heldout3")} == {"documented", "catalog"}


def test_set_three_manifest_pins_every_release_and_names_no_registry_host() -> None:
    text = SET3.manifest.read_text()

    assert "://" not in text
    json.loads(text)
    releases = SET3.releases()
    assert {r.registry for r in releases} == {"pypi", "npm"}
    assert all(len(r.sha256) == 64 and r.version in r.archive for r in releases)


def test_the_registry_source_of_each_release_is_what_a_user_would_type() -> None:
    sources = dict(registry_sources_of(["heldout3"]))

    assert sources == {
        "/agronholm/anyio": "pypi:anyio==4.16.0",
        "/hynek/structlog": "pypi:structlog==26.1.0",
        "/urllib3/urllib3": "pypi:urllib3==2.8.0",
        "/nodejs/undici": "npm:undici@7.30.3",
    }
