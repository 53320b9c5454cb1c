"""The 'which library' cases: frozen, well formed, about the twelve eval libraries."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import whichlib
from bench.eval import ResolutionOutcome
from bench.heldout_corpus import HELDOUT_SETS, load_manifest
from bench.stackctl import corpus_libraries


def test_twelve_describe_the_documented_libraries_and_twelve_catalog_packages() -> None:
    cases = whichlib.cases()
    assert whichlib.CASES.name == "resolution-2026-12-06.jsonl"
    assert Counter(case.kind for case in cases) == {
        "documented description": 12,
        "catalog description": 12,
    }
    documented = {
        *(library_id for library_id, _ in corpus_libraries()),
        *(
            r.library_id
            for name in whichlib.SETS[1:]
            for r in load_manifest(HELDOUT_SETS[name].manifest)
        ),
    }
    described = {case.expect[0] for case in cases if case.kind == "documented description"}
    # One case for each of the twelve libraries of the three sets it was written with.
    assert described == documented
    for case in cases:
        words = {w.strip(".,").lower() for w in case.query.split()}
        assert len(words) >= 3, case.query
        if case.kind == "catalog description":
            assert all(not e.startswith("/") for e in case.expect), case.query
        else:
            # A description does not name what it describes.
            assert case.expect[0].rsplit("/", 1)[-1].lower() not in words, case.query


def test_the_report_names_each_miss(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = ResolutionOutcome(total=2, correct=1, latencies=[2.0, 4.0])
    outcome.by_kind["catalog description"] = [1, 2]
    outcome.misses.append("'python yaml parser' -> /pydantic/pydantic (expected pyyaml)")
    whichlib.report(outcome)
    out = capsys.readouterr().out
    assert "top-1 1/2" in out and "catalog description: 1/2" in out
    assert "miss: 'python yaml parser' -> /pydantic/pydantic" in out
    assert "REST p50 3.0 ms" in out
