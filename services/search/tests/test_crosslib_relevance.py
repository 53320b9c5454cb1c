"""How libraries are weighed against each other for one question: keywords and vectors."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from twinmcp.search.crosslib import blend_relevance, dense_relevance, identifier_owners


def _index(vectors: list[list[float]] | None) -> Any:
    """What dense_relevance reads of a VersionIndex: its L2-normalised vectors."""
    if vectors is None:
        return SimpleNamespace(vectors=None)
    matrix = np.asarray(vectors, dtype=np.float32)
    return SimpleNamespace(vectors=matrix / np.linalg.norm(matrix, axis=1, keepdims=True))


def test_the_library_whose_best_snippets_lie_closest_to_the_query_is_most_relevant() -> None:
    query = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    near = _index([[1.0, 0.1, 0.0], [0.9, 0.3, 0.0], [0.8, 0.5, 0.0], [0.0, 1.0, 0.0]])
    far = _index([[0.3, 1.0, 0.0], [0.2, 0.0, 1.0], [0.1, 1.0, 1.0], [0.0, 0.0, 1.0]])

    close, distant = dense_relevance([near, far], query)

    assert close > distant
    # The best snippets count, not the library's size or its worst pages.
    assert close == pytest.approx(np.mean(np.sort(near.vectors @ query)[-3:]), abs=1e-6)
    assert dense_relevance([_index(None)], query) == [0.0]


def test_with_equal_dense_evidence_the_keyword_shares_decide() -> None:
    blended = blend_relevance([4.0, 2.0, 1.0], [0.5, 0.5, 0.5])

    assert blended == pytest.approx([1.0, 0.5**0.75, 0.25**0.75])


def test_with_equal_keyword_evidence_the_closer_library_comes_first() -> None:
    first, second = blend_relevance([3.0, 3.0], [0.62, 0.55])

    assert first == pytest.approx(1.0)
    assert 0 < second < first


def test_a_library_no_keyword_matches_stays_out_whatever_its_vectors_say() -> None:
    # A zero keyword share stays zero: vectors rank what the words found, they do not add
    # libraries the words never touched.
    assert blend_relevance([2.0, 0.0], [0.40, 0.70])[1] == 0.0


def _holding(*terms: str) -> Any:
    """What identifier_owners reads of a VersionIndex: which terms its snippets hold."""
    held = set(terms)
    return SimpleNamespace(
        lexical=SimpleNamespace(postings=lambda term: [0] if term in held else None)
    )


def test_an_identifier_some_libraries_hold_marks_them_and_one_all_hold_marks_none() -> None:
    web, http, models = _holding("get_db", "e.g"), _holding("client.get", "e.g"), _holding("e.g")
    query = "does get_db run twice, e.g. per request"
    assert identifier_owners([web, http, models], query) == [True, False, False]
    assert identifier_owners([web, http], "client.get or get_db") == [True, True]
    assert identifier_owners([web, http, models], "a question with no code names") == [
        False,
        False,
        False,
    ]
