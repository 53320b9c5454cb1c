"""Dropping exact and near-duplicate snippets across a whole library, keeping the first seen."""

from __future__ import annotations

import hashlib
import heapq
import re
from collections import defaultdict
from collections.abc import Iterable

from twinmcp.ingest.documents import SnippetDraft

NEAR_DUPLICATE_JACCARD = 0.9
SHINGLE_WORDS = 3
SKETCH_SIZE = 8
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    return " ".join(text.split())


def _shingles(text: str) -> set[int]:
    # Python's str hash is salted per process, but it only picks the sketch used to find
    # candidates; a pair at Jaccard >= 0.9 shares a sketch value with near certainty, and the
    # decision itself is the exact Jaccard of the two sets.
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE_WORDS:
        return {hash(tuple(words))} if words else set()
    return {hash(t) for t in zip(words, words[1:], words[2:], strict=False)}


def _key_text(draft: SnippetDraft) -> str:
    # The title is left out: the same code under two pages' headings is still the same answer.
    return f"{draft.kind}\n{draft.description}\n{draft.content}"


def dedupe(
    drafts: Iterable[SnippetDraft], *, threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[SnippetDraft]:
    """The drafts without exact (whitespace-insensitive) or near duplicates, in input order.

    Near duplicates share at least `threshold` of their word 3-shingles (Jaccard). Candidates
    are found through a bottom-k sketch of each snippet's shingles, so the cost stays linear.
    """
    kept: list[SnippetDraft] = []
    seen_exact: set[bytes] = set()
    shingle_sets: list[set[int]] = []
    buckets: dict[int, list[int]] = defaultdict(list)
    for draft in drafts:
        text = _key_text(draft)
        digest = hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()
        if digest in seen_exact:
            continue
        shingles = _shingles(text)
        sketch = heapq.nsmallest(SKETCH_SIZE, shingles)
        candidates: set[int] = set()
        for value in sketch:
            candidates.update(buckets.get(value, ()))
        is_duplicate = False
        for index in candidates:
            other = shingle_sets[index]
            smaller, larger = sorted((len(shingles), len(other)))
            if larger == 0 or smaller / larger < threshold:
                continue
            overlap = len(shingles & other)
            if overlap / (len(shingles) + len(other) - overlap) >= threshold:
                is_duplicate = True
                break
        if is_duplicate:
            continue
        seen_exact.add(digest)
        index = len(kept)
        kept.append(draft)
        shingle_sets.append(shingles)
        for value in sketch:
            buckets[value].append(index)
    return kept
