"""A BM25F index held as numpy posting arrays; term scores are precomputed so a query is a sum."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from twinmcp.search.tokenizer import tokenize

Tokenizer = Callable[[str], list[str]]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class FieldSpec:
    """One searched field: its weight in the combined term frequency and its length norm `b`."""

    weight: float
    b: float


K1 = 1.2


@dataclass
class LexicalIndex:
    """Postings per term: `doc_ids[indptr[t]:indptr[t+1]]` with their BM25F term scores."""

    vocabulary: dict[str, int]
    indptr: npt.NDArray[np.int64]
    doc_ids: IntArray
    scores: FloatArray
    doc_count: int

    @classmethod
    def build(
        cls,
        documents: Sequence[Sequence[str]],
        fields: Sequence[FieldSpec],
        tokenizer: Tokenizer = tokenize,
        k1: float = K1,
    ) -> LexicalIndex:
        """`documents[i][f]` is the text of field `f` of document `i`."""
        n_docs = len(documents)
        vocabulary: dict[str, int] = {}
        field_counts: list[list[Counter[str]]] = []
        lengths = np.zeros((len(fields), max(n_docs, 1)), dtype=np.float64)
        for doc_index, doc in enumerate(documents):
            per_field: list[Counter[str]] = []
            for field_index, text in enumerate(doc):
                field_terms = tokenizer(text) if text else []
                lengths[field_index, doc_index] = len(field_terms)
                per_field.append(Counter(field_terms))
            field_counts.append(per_field)
        averages = [
            float(lengths[f, :n_docs].mean()) if n_docs else 1.0 for f in range(len(fields))
        ]
        term_list: list[int] = []
        doc_list: list[int] = []
        tf_list: list[float] = []
        for doc_index, per_field in enumerate(field_counts):
            combined: dict[str, float] = {}
            for field_index, counts in enumerate(per_field):
                spec = fields[field_index]
                average = averages[field_index] or 1.0
                norm = 1.0 - spec.b + spec.b * lengths[field_index, doc_index] / average
                factor = spec.weight / norm
                for term, count in counts.items():
                    combined[term] = combined.get(term, 0.0) + count * factor
            for term, tf in combined.items():
                term_id = vocabulary.setdefault(term, len(vocabulary))
                term_list.append(term_id)
                doc_list.append(doc_index)
                tf_list.append(tf)
        term_ids = np.asarray(term_list, dtype=np.int64)
        docs = np.asarray(doc_list, dtype=np.int32)
        tfs = np.asarray(tf_list, dtype=np.float64)
        order = np.argsort(term_ids, kind="stable")
        term_ids, docs, tfs = term_ids[order], docs[order], tfs[order]
        df = np.bincount(term_ids, minlength=len(vocabulary)).astype(np.float64)
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(df).astype(np.int64)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        scores = (idf[term_ids] * tfs * (k1 + 1.0) / (tfs + k1)).astype(np.float32)
        return cls(vocabulary, indptr, docs, scores, n_docs)

    def score(self, query_terms: dict[str, float]) -> FloatArray:
        """BM25F score of every document for weighted query terms (zero where none match)."""
        totals = np.zeros(self.doc_count, dtype=np.float32)
        for term, weight in query_terms.items():
            term_id = self.vocabulary.get(term)
            if term_id is None:
                continue
            start, end = self.indptr[term_id], self.indptr[term_id + 1]
            totals[self.doc_ids[start:end]] += np.float32(weight) * self.scores[start:end]
        return totals

    def postings(self, term: str) -> IntArray | None:
        """The documents holding the term, or None for a term no document holds."""
        term_id = self.vocabulary.get(term)
        if term_id is None:
            return None
        return self.doc_ids[self.indptr[term_id] : self.indptr[term_id + 1]]

    def idf_of(self, term: str) -> float:
        term_id = self.vocabulary.get(term)
        if term_id is None:
            return 0.0
        df = float(self.indptr[term_id + 1] - self.indptr[term_id])
        return math.log1p((self.doc_count - df + 0.5) / (df + 0.5))


def query_terms(text: str, tokenizer: Tokenizer = tokenize) -> dict[str, float]:
    """Query terms with their weights: each distinct term once (repeats add a little)."""
    weights: dict[str, float] = {}
    for term in tokenizer(text):
        weights[term] = 1.0 if term not in weights else min(weights[term] + 0.25, 1.5)
    return weights
