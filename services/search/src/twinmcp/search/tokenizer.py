"""Code-aware tokenisation for lexical search: identifiers split and kept whole, Snowball stems."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import chain, pairwise

import Stemmer

# A word, an identifier or a dotted name (`app.add_middleware`), or a number.
_RAW = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|[0-9]+")
# camelCase / PascalCase / acronym boundaries: "HTTPTransport" -> HTTP, Transport.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each either else few for
    from further get gets got had has have having he her here hers herself him himself his how
    i if in into is it its itself just let lets like me might more most must my myself need no
    nor not now of off on once one only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this
    those through to too under until up us use used using very want was way we were what when
    where which while who whom why will with would you your yours yourself yourselves instead
    without also thing things make makes made something anything every""".split()  # noqa: SIM905
)

_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball English (Porter2) stem of a lower-cased word; short words and names stay whole.

    Porter2 folds the inflections a question and a page most often disagree on ("caching"/
    "cached"/"cache", "applies"/"applied") without merging unrelated words the way a hand-written
    suffix stripper did ("apply" and "app", "header" and "head").
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    return str(_STEMMER.stemWord(word))


def _split_identifier(part: str) -> list[str]:
    """Sub-words of one identifier: snake_case and camelCase pieces, lower-cased."""
    pieces: list[str] = []
    for chunk in part.split("_"):
        if chunk:
            pieces.extend(m.group(0).lower() for m in _CAMEL.finditer(chunk))
    return pieces


def _word_terms(word: str, *, keep_stopwords: bool) -> Iterator[str]:
    lowered = word.lower()
    if not keep_stopwords and lowered in STOPWORDS:
        return
    yield stem(lowered)


@lru_cache(maxsize=200_000)
def _token_terms(raw: str) -> tuple[str, ...]:
    terms: list[str] = []
    parts = raw.split(".")
    if len(parts) > 1:
        # The whole dotted name matches a question that quotes it exactly.
        terms.append(raw.lower())
    for part in parts:
        if not part:
            continue
        pieces = _split_identifier(part)
        if len(pieces) > 1:
            # An identifier: keep it whole and add its stemmed pieces.
            terms.append(part.lower().strip("_"))
            for piece in pieces:
                if piece not in STOPWORDS or len(pieces) > 1:
                    terms.extend(_word_terms(piece, keep_stopwords=True))
        elif pieces:
            terms.extend(_word_terms(pieces[0], keep_stopwords=len(parts) > 1))
    return tuple(t for t in terms if t)


def tokenize(text: str) -> list[str]:
    """Index terms of `text` in order; identifiers appear whole and as their parts."""
    terms: list[str] = []
    for match in _RAW.finditer(text):
        terms.extend(_token_terms(match.group(0)))
    return terms


def identifier_terms(text: str) -> set[str]:
    """The code identifiers `text` quotes, lower-cased as `tokenize` keeps them whole: dotted
    names (`request.remote_addr`) and snake_case or camelCase names (`get_db`, `EventSource`)."""
    found: set[str] = set()
    for match in _RAW.finditer(text):
        raw = match.group(0)
        parts = [part for part in raw.split(".") if part]
        if len(parts) > 1:
            found.add(raw.lower())
        elif parts and len(_split_identifier(parts[0])) > 1:
            found.add(parts[0].lower().strip("_"))
    return found


def plain_tokenize(text: str) -> list[str]:
    """The baseline: lower-cased alphanumeric words, no splitting, stemming or stopwords."""
    return re.findall(r"[a-z0-9]+", text.lower())


_PIECE = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=200_000)
def _sequence_pieces(raw: str) -> tuple[str, ...]:
    pieces: list[str] = []
    for part in _PIECE.findall(raw):
        for piece in _split_identifier(part) or [part.lower()]:
            if piece not in STOPWORDS:
                pieces.append(stem(piece))
    return tuple(pieces)


def word_sequence(text: str) -> list[str]:
    """Content words of `text` in reading order, identifiers split into their stemmed pieces.

    For phrase evidence: "remote_addr", "remoteAddr" and "remote addr" give the same pair.
    """
    # findall and map keep the loop in C (the pieces of a raw token are cached): phrase
    # evidence reads sixty candidates' text per query.
    return list(chain.from_iterable(map(_sequence_pieces, _RAW.findall(text))))


def word_pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent content-word pairs of `text` (stopwords skipped, so "time out of" pairs up)."""
    words = word_sequence(text)
    return {(a, b) for a, b in pairwise(words) if a != b}


def shared_pairs(pairs: set[tuple[str, str]], text: str) -> int:
    """How many of `pairs` (from `word_pairs`) `text` holds: `len(pairs & word_pairs(text))`
    without building the text's own set (`word_pairs` never pairs a word with itself)."""
    words = word_sequence(text)
    return len(pairs.intersection(pairwise(words)))
