"""The second held-out set: frozen files that hold, and its wiring into `make eval`."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from bench import eval as bench_eval
from bench import heldout_corpus
from bench.eval import (
    SET_CHOICES,
    SET_TITLES,
    SETS,
    Answer,
    Question,
    ResolutionOutcome,
    print_misses,
    print_resolution,
    print_side_by_side,
    questions_of,
    resolution_cases_of,
)
from bench.heldout_corpus import HELDOUT_SETS, check_questions, load_rows

SET2 = HELDOUT_SETS["heldout2"]


def test_the_two_held_out_sets_are_registered_with_their_frozen_files() -> None:
    assert list(HELDOUT_SETS) == ["heldout", "heldout2", "heldout3"]
    set1 = HELDOUT_SETS["heldout"]
    assert set1.manifest == heldout_corpus.MANIFEST
    assert set1.questions == heldout_corpus.QUESTIONS
    assert set1.resolution == heldout_corpus.RESOLUTION
    assert SET2.folder.name == "heldout2"
    assert SET2.questions.name == "questions-2026-12-05.jsonl"
    assert SET2.resolution.name == "resolution-2026-12-05.jsonl"
    assert all(path.is_file() for path in (SET2.manifest, SET2.questions, SET2.resolution))


def test_set_two_has_twenty_questions_per_manifest_library_of_every_kind() -> None:
    rows = load_rows(SET2.questions)
    libraries = {r.library for r in SET2.releases()}

    assert len(libraries) == 4
    assert Counter(str(r["library"]) for r in rows) == {lib: 20 for lib in libraries}
    assert len({r["id"] for r in rows}) == len(rows) == 80
    assert {str(r["kind"]) for r in rows} == heldout_corpus.KINDS
    assert heldout_corpus.check_resolution(load_rows(SET2.resolution)) == []


def test_the_sets_share_no_library_and_none_of_the_dev_corpus() -> None:
    set1 = {r.library for r in HELDOUT_SETS["heldout"].releases()}
    set2 = {r.library for r in SET2.releases()}
    dev = {"fastapi/fastapi", "pallets/flask", "encode/httpx", "pydantic/pydantic"}
    packages = {r.package for r in SET2.releases()}

    assert not set1 & set2
    assert not dev & set2
    assert not packages & {"click", "marshmallow", "starlette", "fastify", "httpx", "flask"}
    # They share .data/heldout/corpus, so their folders must differ too.
    folders1 = {r.folder_name for r in HELDOUT_SETS["heldout"].releases()}
    assert not folders1 & {r.folder_name for r in SET2.releases()}


def test_set_two_documented_resolution_cases_expect_its_ingested_ids() -> None:
    ids = {r.library_id for r in SET2.releases()}
    rows = load_rows(SET2.resolution)
    documented = [r for r in rows if r["documented"]]

    assert documented and len(rows) > len(documented)
    expected = [{str(e) for e in r["expect"]} for r in documented]  # type: ignore[attr-defined]
    assert all(e <= ids for e in expected)
    assert set().union(*expected) == ids


def test_set_two_manifest_pins_every_release_and_names_no_registry_host() -> None:
    text = SET2.manifest.read_text()

    assert "://" not in text
    releases = SET2.releases()
    assert {r.registry for r in releases} == {"pypi", "npm"}
    assert all(len(r.sha256) == 64 and r.version in r.archive for r in releases)
    json.loads(text)


def test_check_reports_a_set_two_question_whose_string_is_in_none_of_its_files(
    tmp_path: Path,
) -> None:
    row = next(r for r in load_rows(SET2.questions) if r["id"] == "pino-12")
    folder = tmp_path / "pinojs__pino" / "docs"
    folder.mkdir(parents=True)
    (folder / "api.md").write_text("const logger = pino({ customLevels: { foo: 35 } })")

    assert check_questions([row], tmp_path) == []
    (folder / "api.md").write_text("no such option here")
    assert check_questions([row], tmp_path) == [
        "pino-12: 'customLevels' occurs in none of its expect_files"
    ]


def test_eval_knows_four_sets_and_runs_all_of_them_by_default() -> None:
    assert SETS == ("dev", "heldout", "heldout2", "heldout3")
    assert SET_TITLES["heldout2"] == "held-out 2"
    assert SET_CHOICES["all"] == SETS
    assert SET_CHOICES["both"] == ("dev", "heldout")
    assert SET_CHOICES["heldout2"] == ("heldout2",)
    assert len(questions_of("heldout2")) == 80
    cases = resolution_cases_of("heldout2")
    assert len(cases) == len(load_rows(SET2.resolution))
    assert {c.kind.split()[0] for c in cases} == {"documented", "catalog"}


@pytest.mark.parametrize("choice", ["heldout2", "all"])
def test_eval_prepares_the_corpora_of_the_chosen_held_out_sets(
    monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    asked: list[str] = []

    def prepare(heldout_set: str = "heldout") -> list[tuple[str, Path]]:
        asked.append(heldout_set)
        return [(f"/{heldout_set}/lib", Path(heldout_set))]

    monkeypatch.setattr(heldout_corpus, "prepare", prepare)
    monkeypatch.setattr(bench_eval, "corpus_libraries", lambda: [("/dev/lib", Path("dev"))])

    libraries = bench_eval.libraries_of(SET_CHOICES[choice])

    expected = ["heldout2"] if choice == "heldout2" else ["heldout", "heldout2", "heldout3"]
    assert asked == expected
    assert [lib for lib, _ in libraries] == (
        ["/heldout2/lib"]
        if choice == "heldout2"
        else ["/dev/lib", "/heldout/lib", "/heldout2/lib", "/heldout3/lib"]
    )


def _row(set_name: str, qid: str, rank: int) -> tuple[Question, Answer]:
    question = Question(qid, "acme/widgets", "spin", ("docs/a.md",), ("spin()",), "howto")
    paths = ["docs/b.md"] * (rank - 1) + ["docs/a.md"] if rank else ["docs/b.md"]
    answer = Answer(
        text_by_budget={b: "spin()" if rank else "" for b in bench_eval.BUDGETS},
        tokens_by_budget={b: 100 for b in bench_eval.BUDGETS},
        ranked_paths=paths,
    )
    return question, answer


def test_the_report_prints_dev_held_out_and_held_out_2_side_by_side(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = {
        (s, r): [_row(s, f"{s}-1", 1), _row(s, f"{s}-2", 2 if s == "heldout2" else 1)]
        for s in SETS
        for r in ("keyword", "bm25")
    }
    results[("heldout2", "keyword")].append(_row("heldout2", "heldout2-miss", 0))

    print_side_by_side(results, {}, SETS)
    print_misses(results, SETS)
    out = capsys.readouterr().out

    header = next(line for line in out.splitlines() if "dev keyword" in line)
    assert re.split(r"\s{2,}", header.strip()) == [
        f"{SET_TITLES[s]} {r}" for r in ("keyword", "bm25") for s in SETS
    ]
    mrr = next(line for line in out.splitlines() if line.startswith("MRR"))
    # dev, held-out, held-out 2, held-out 3 by keyword, then by BM25 (the miss is keyword's).
    keyword, bm25 = ["1.000", "1.000", "0.500", "1.000"], ["1.000", "1.000", "0.750", "1.000"]
    assert mrr.split()[1:] == keyword + bm25
    assert "-- held-out 2 misses (keyword)" in out
    assert "heldout2-miss" in out
    assert "heldout2-1 " not in out


def test_resolution_is_printed_for_each_held_out_set_with_its_kinds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = {}
    for s in SETS:
        outcome = ResolutionOutcome(correct=1, total=2, latencies=[1.0, 3.0])
        outcome.by_kind["documented name"] = [1, 2]
        outcome.misses.append(f"'x' -> /npm/x (expected {s})")
        outcomes[(s, "keyword")] = outcome

    print_resolution(outcomes, SETS)
    out = capsys.readouterr().out

    assert "held-out 2" in out.splitlines()[2]
    assert "1/2 (0.500)" in out
    assert "held-out 2 by kind (keyword): documented name 1/2" in out
    assert "miss (held-out 2, keyword): 'x' -> /npm/x (expected heldout2)" in out
