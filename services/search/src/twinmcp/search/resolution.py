"""Library resolution: from a name, a misspelling or a description to ranked library ids."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from twinmcp.search.lexical import FieldSpec, FloatArray, IntArray, LexicalIndex, query_terms
from twinmcp.search.tokenizer import STOPWORDS, tokenize

_VERSION_SUFFIX = re.compile(
    r"(?:\s+|@|(?<=[a-z])(?=v?\d+(?:\.\d+|\.x)*$))v?\d+(?:\.\d+)*(?:\.x)?$", re.IGNORECASE
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_PYTHON_HINT = re.compile(r"\b(python|py|pypi|pip|django|flask)\b", re.IGNORECASE)
_JS_HINT = re.compile(
    r"\b(javascript|js|node|nodejs|npm|typescript|ts|react|browser|frontend)\b", re.IGNORECASE
)

# Words that say what kind of thing is wanted, not which: "a python http client library".
_GENERIC_WORDS = frozenset(
    [
        "library",
        "libraries",
        "lib",
        "libs",
        "package",
        "packages",
        "module",
        "modules",
        "framework",
        "for",
    ]
)
# Words naming the language: they choose the registry and are not matched as text.
_ECOSYSTEM_WORDS = frozenset(
    [
        "python",
        "python3",
        "py",
        "pypi",
        "pip",
        "javascript",
        "js",
        "node",
        "nodejs",
        "npm",
        "typescript",
        "ts",
    ]
)
_NAME_SEPARATOR = re.compile(r"([-_./])")
_SENTENCES = re.compile(r"[.!?:;]\s+|\s+[-\u2013\u2014]\s+|[()\[\]]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_MENTION = re.compile(r"@?[a-z0-9][a-z0-9._/-]*")
# A package named with its major version: "beautifulsoup4", "boto3", "pyqt5".
_MAJOR_SUFFIX = re.compile(r"(?<=[a-z])\d$")
_GLUED_DIGITS = re.compile(r"[A-Za-z]\d+$")
# In a description ("python http client"), several libraries cover the words about as well,
# and the one people mean is most often the one most people use: among the candidates that
# cover at least DESCRIPTION_FLOOR of what the best one covers, popularity (downloads, or
# stars for a documented library), reach and being documented decide, more than small
# differences in wording do ("retry" names a package; tenacity is what is used).
DESCRIPTION_FLOOR = 0.5
POPULARITY_WEIGHT = 1.0
DOCUMENTED_WEIGHT = 0.2

# A short name asked in capitals may be initials of how a summary names its package: "PIL" is
# pillow's "Python Imaging Library", "GCS" google-cloud-storage's "Google Cloud Storage". Below
# a name or package match (1.0, 0.97), above near spellings (at most 0.9 x similarity).
# Tuned on ACRONYMS of bench/search_resolution.py (2026-12-05).
ACRONYM_WEIGHT = 0.9
ACRONYM_MAX_WORDS = 5
_CAPITALISED_RUN = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:[ -][A-Z][A-Za-z0-9]*)+")

# A summary covering every word is weaker evidence than the name itself.
DESCRIPTION_MATCH_WEIGHT = 0.85

# How much of the words' BM25 weight a summary must carry to count fully (shorter, focused
# summaries carry more).
CENTRALITY_FLOOR = 0.8
# A description in a language names that registry; other registries' packages count less.
OFF_REGISTRY_FACTOR = 0.5
# Other packages that cover the words and name a candidate speak for it ("eslint-plugin-*:
# ESLint rules for ..." for eslint, whose own summary never says "linter"). Their votes are
# averaged over every package naming the candidate, so they say how typical the words are of
# its family, not how big the family is (hundreds of "Type annotations for boto3 ..." stubs
# must not make boto3 the answer to "type script"); the average saturates at this scale.
ASSOCIATION_WEIGHT = 1.0
ASSOCIATION_SCALE = 0.5
# A family of packages named after a candidate ("pytest-*", "@jest/*") marks what people
# build on, which downloads alone do not (transitive helpers like `ms` top those).
REACH_WEIGHT = 0.3
# What other packages say of a candidate (the summaries of those named after it or naming it,
# like anchor text on the web) stands in for words its own summary lacks: rich never says
# "formatting", rich-click and rich-argparse do. A word counts at ANCHOR_CREDIT of an own word,
# fully once ANCHOR_SHARE of those packages use it (a share, so that react's thousands of
# plugins do not make it match every word).
ANCHOR_CREDIT = 0.5
ANCHOR_SHARE = 0.25
# A documented library's README says what it is in more words than its one-line summary
# ("Starlette is a lightweight ASGI framework/toolkit, which is ideal for building async web
# services in Python" beside "The little ASGI library that shines"). A word found only there
# counts as one others use of it: at ANCHOR_CREDIT (not tuned). Full credit let long READMEs
# outvote focused summaries (bench/whichlib/README.md).
ABOUT_CREDIT = ANCHOR_CREDIT
# What a documented library's documentation is about, word by word: search stores, at publish,
# the share of the default version's snippets each description word occurs in (prose: title,
# lead-in and text; code: title and lead-in), for the DOC_TERMS_STORED most used words of at
# least DOC_TERMS_MIN_SNIPPETS snippets. Of them, the DOC_KEY_TERMS most distinctive (share x
# log(share / background), the background being the larger of the word's share of package
# summaries and its largest share in another documented library's documentation) count like
# words of the README's opening: marshmallow's pages say "serialize" and "deserialize", its
# summary "converting complex datatypes". Distinctive of a library among the documented ones,
# so Starlette's "testclient" and "routing" do not answer for Werkzeug, nor Click's "context"
# for structlog (they did with the package summaries alone as background). Measured on the
# resolution cases of every set with each set's four libraries and with all sixteen documented
# (services/search/README.md); 10 words (20 measured the same).
DOC_TERMS_STORED = 200
DOC_TERMS_MIN_SNIPPETS = 3
DOC_KEY_TERMS = 10
NAME_REFERENCE_WEIGHT = 1.0
SUMMARY_REFERENCE_WEIGHT = 0.5

# Repository names that say "documentation", not whose (/honojs/website, /vuejs/docs): not a
# name such a library is asked for by, nor a package it documents.
GENERIC_REPO_NAMES = frozenset(
    ["docs", "doc", "website", "site", "www", "documentation", "web", "homepage", "pages"]
)

# A scoped npm family asked by its scope ("@angular", "nestjs") means the family's main package:
# the member named `core` or like the scope, else the most downloaded one. Asked with the `@`
# it outranks a bare package of that name (`@babel` is not pypi's babel); without, it does not
# (`angular`, the package, is what that name spells).
SCOPE_WEIGHT = 0.96
SCOPE_EXPLICIT_WEIGHT = 1.02
# "amazon sagemaker", "hugging face transformers": the last word names a package and the whole
# phrase is how that package's own summary, or one naming it, calls it ("an extension of the
# Hugging Face Transformers library"): the words before it are its brand, not a description.
BRANDED_NAME_WEIGHT = 0.97
# "facebook react", "hugging face tokenizers", "psf requests": a short query whose other words
# are all makers' names. A maker's name is a proper noun where summaries use it (capitalised
# inside a sentence in at least MAKER_CAPITALISED of at least MAKER_MIN_USES uses: "Google",
# "Hugging Face", not "state" or "management"), or a word summaries hardly use ("psf"). Tuned on
# BRANDS of bench/search_resolution.py (2026-12-04).
MAKER_CAPITALISED = 0.6
MAKER_MIN_USES = 3
MAKER_MAX_WORDS = 4
# A summary that opens with the description's words in their order ("Terminal string styling
# done right" for "terminal string styling", "Async http client/server framework") is the
# package's tagline: what it says it is, and how people then describe it. That outweighs a more
# downloaded neighbour with the same words scattered ("styling strings in the terminal") or
# with them further in, qualifying something else ("... runtime-static type-checker").
PHRASE_WEIGHT = 0.09
PHRASE_MIN_TERMS = 3

# The indel ratio (0-100) a name key must reach to be scored as a near spelling.
FUZZY_CUTOFF = 65
# Name keys are compact(): lower-case letters and digits; anything else counts as one more.
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
_LETTER_CODE = np.full(256, len(_LETTERS), dtype=np.intp)
_LETTER_CODE[np.frombuffer(_LETTERS.encode(), dtype=np.uint8)] = np.arange(len(_LETTERS))

MATCH_EXACT = "exact"
MATCH_PACKAGE = "package"
MATCH_FUZZY = "fuzzy"
MATCH_DESCRIPTION = "description"


_AGENT_NOUN = re.compile(r"\b([A-Za-z]{4,})ers?\b")


def _agent_noun_root(match: re.Match[str]) -> str:
    root = match.group(1)
    if root[-1] == root[-2] and root[-1].lower() not in "lsz":
        root = root[:-1]  # "formatter" -> "format", "runner" -> "run"
    return root


def description_terms(text: str) -> list[str]:
    """Index terms of a package summary or description query, agent nouns read as their verb.

    'linter' -> 'lint', 'formatter' -> 'format', 'bundler' -> 'bundl': Porter2 keeps agent nouns
    apart from their verbs, which is right for documentation ("header" is not "head") but not
    for one-line package summaries, where "a linter" and "lint rules" describe the same package.
    """
    return tokenize(_AGENT_NOUN.sub(_agent_noun_root, text))


def _glued(name: str) -> bool:
    """Whether a name ends in digits written onto its last letter ("boto3", "vue3")."""
    return bool(_GLUED_DIGITS.search(name.strip()))


def compact(name: str) -> str:
    """`Next.js`, `next-js` and `NextJS` all become `nextjs`."""
    return _NON_ALNUM.sub("", name.lower())


def strip_version(name: str) -> tuple[str, str]:
    """("vue 3") -> ("vue", "3"); names that are only a version are left alone."""
    text = name.strip()
    match = _VERSION_SUFFIX.search(text)
    if match and match.start() > 0:
        return text[: match.start()].strip(" @"), match.group(0).strip(" @vV")
    return text, ""


@dataclass
class Candidate:
    """A library the resolver can answer: documented, or a catalog entry without documents."""

    library_id: str
    title: str
    description: str
    is_documented: bool
    registry: str = ""  # for catalog entries (and documented libraries that absorbed one)
    names: list[str] = field(default_factory=list)  # package names and other aliases
    popularity_rank: int = 0
    stars: int = 0
    trust_score: float = 0.0
    snippet_count: int = 0
    # A documented library's own account of itself (its README's opening prose).
    about: str = ""
    # (description word, share of its documentation's snippets using it): doc_term_shares.
    doc_terms: Sequence[tuple[str, float]] = ()


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    score: float
    reason: str


class Resolver:
    """An in-memory index over every candidate; rebuilt when the catalog or libraries change."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)
        self._exact: dict[str, list[int]] = {}
        self._by_id = {c.library_id.lower(): i for i, c in enumerate(self.candidates)}
        self._package: dict[str, list[int]] = {}
        self._unversioned: dict[str, list[int]] = {}
        choice_keys: list[str] = []
        choice_owner: list[int] = []
        for position, candidate in enumerate(self.candidates):
            repo = repo_name(candidate.library_id)
            primary = {compact(candidate.title)}
            if repo.lower() not in GENERIC_REPO_NAMES or not candidate.title:
                primary.add(compact(repo))
            for key in primary:
                if key:
                    self._exact.setdefault(key, []).append(position)
            for name in candidate.names:
                key = compact(name)
                if key and key not in primary:
                    self._package.setdefault(key, []).append(position)
                unversioned = _MAJOR_SUFFIX.sub("", key)
                if unversioned != key and len(unversioned) >= 3:
                    self._unversioned.setdefault(unversioned, []).append(position)
            for key in primary | {compact(n) for n in candidate.names}:
                if key:
                    choice_keys.append(key)
                    choice_owner.append(position)
        self._choice_keys = choice_keys
        self._choice_owner = np.asarray(choice_owner, dtype=np.int32)
        self._choice_letters, self._choice_floor = _letter_counts(choice_keys)
        self._descriptions = LexicalIndex.build(
            [
                [" ".join([candidate.title, *candidate.names]), candidate.description]
                for candidate in self.candidates
            ],
            [FieldSpec(weight=1.0, b=0.3), FieldSpec(weight=1.0, b=0.5)],
            tokenizer=description_terms,
        )
        # Summaries alone: what a package says it does, for its votes (its name would vote
        # for its own family: "web3-utils" is not evidence that web3 is a web framework).
        self._summaries = LexicalIndex.build(
            [[candidate.description] for candidate in self.candidates],
            [FieldSpec(weight=1.0, b=0.5)],
            tokenizer=description_terms,
        )
        # Documented libraries' READMEs and their documentation's key words, whose words count
        # at ABOUT_CREDIT (`_anchored`). Both are description terms already.
        key_terms = _key_terms(self.candidates, self._summaries)
        # Read once: the index below keeps the key words, the candidates not the shares.
        self.candidates = [replace(c, doc_terms=()) if c.doc_terms else c for c in self.candidates]
        self._abouts = LexicalIndex.build(
            [
                [" ".join([*description_terms(candidate.about), *keys])]
                for candidate, keys in zip(self.candidates, key_terms, strict=True)
            ],
            [FieldSpec(weight=1.0, b=0.5)],
            tokenizer=str.split,
        )
        self._prior = np.asarray([_prior(c) for c in self.candidates], dtype=np.float32)
        popularity = np.asarray([_popularity(c) for c in self.candidates], dtype=np.float32)
        documented = np.asarray([c.is_documented for c in self.candidates], dtype=np.float32)
        self._ref_source, self._ref_target, self._ref_weight = _references(self.candidates)
        referrers = np.bincount(
            self._ref_target, weights=self._ref_weight, minlength=len(self.candidates)
        )
        self._referrers = referrers.astype(np.float32)
        self._ref_norm = (1.0 / np.maximum(referrers, 1.0))[self._ref_target].astype(np.float32)
        family = np.log1p(
            np.bincount(
                self._ref_target,
                weights=self._ref_weight >= NAME_REFERENCE_WEIGHT,
                minlength=len(self.candidates),
            )
        )
        self._reach = (family / max(float(family.max(initial=0.0)), 1.0)).astype(np.float32)
        self._described_prior = (
            POPULARITY_WEIGHT * popularity
            + REACH_WEIGHT * self._reach
            + DOCUMENTED_WEIGHT * documented
        ).astype(np.float32)
        self._popularity = popularity
        self._uses, self._capitalised = _capitalisation(c.description for c in self.candidates)
        self._registry = np.asarray([c.registry for c in self.candidates])
        self._successor = _successors(self.candidates)
        self._scopes = _scope_mains(self.candidates)
        self._spaced = [_spaced(c.description) for c in self.candidates]
        self._acronyms = _acronyms(self.candidates)
        order = np.argsort(self._ref_target, kind="stable")
        self._referrer_sources = self._ref_source[order]
        self._referrer_bounds = np.searchsorted(
            self._ref_target[order], np.arange(len(self.candidates) + 1)
        )

    def resolve(self, library_name: str, query: str = "", limit: int = 10) -> list[Match]:
        """The best candidates, best first."""
        name, version = strip_version(library_name)
        key = compact(name)
        scores: dict[int, tuple[float, str]] = {}

        def offer(position: int, similarity: float, reason: str) -> None:
            position = self._successor.get(position, position)
            current = scores.get(position)
            if current is None or similarity > current[0]:
                scores[position] = (similarity, reason)

        # An agent that already has an id ("/owner/repo", "owner/repo") means that library.
        by_id = self._by_id.get("/" + name.strip().strip("/").lower()) if "/" in name else None
        if by_id is not None:
            offer(by_id, 1.5, MATCH_EXACT)
        if key:
            for variant, weight in _variants(key):
                for position in self._exact.get(variant, ()):
                    offer(position, weight, MATCH_EXACT)
                for position in self._package.get(variant, ()):
                    offer(position, 0.97 * weight, MATCH_PACKAGE)
                for position in self._unversioned.get(variant, ()):
                    offer(position, 0.97 * weight, MATCH_PACKAGE)
            scope_main = self._scopes.get(key)
            if scope_main is not None:
                explicit = name.strip().startswith("@") and "/" not in name
                offer(
                    scope_main, SCOPE_EXPLICIT_WEIGHT if explicit else SCOPE_WEIGHT, MATCH_PACKAGE
                )
            # Unless the words together are a package's name ("vue router" is vue-router).
            spelled = [*self._exact.get(key, ()), *self._package.get(key, ())]
            is_named = bool(spelled)
            # A summary's own phrase ("plotly dash") is stronger evidence than makers' names.
            if not is_named:
                branded = self._branded(name) or self._made_by(name)
            elif all(self._scoped_only(position, key) for position in spelled):
                # The words spell a scoped npm package ("hugging face transformers" is
                # @huggingface/transformers), but its scope may be the maker of a package
                # that summaries call by the whole phrase: both readings compete, popularity
                # settles it. Makers' names alone are not enough ("jest globals").
                branded = self._branded(name)
            else:
                branded = []
            for position in branded:
                offer(position, BRANDED_NAME_WEIGHT, MATCH_PACKAGE)
            if not is_named and _is_acronym_query(name):
                for position in self._acronyms.get(key, ()):
                    offer(position, ACRONYM_WEIGHT, MATCH_PACKAGE)
            if not scores or len(key) >= 4:
                # The fast indel ratio picks the near names; edit distance with transpositions
                # then scores them: "lodahs" is one slip from "lodash" but two from "lodash-es",
                # which the indel ratio scored higher. A digit glued to the name may be part of
                # it rather than a version ("urlib3" is a slip of urllib3, not urlib version 3),
                # so the name with it is looked for too, and the nearer reading wins.
                glued = compact(library_name) if version and _glued(library_name) else ""
                for typed in filter(None, (key, glued)):
                    for choice, index in self._near_names(typed):
                        similarity = OSA.normalized_similarity(typed, choice)
                        if similarity >= 0.72:
                            offer(int(self._choice_owner[index]), 0.9 * similarity, MATCH_FUZZY)
        words = len(name.split())
        registry_hint = _registry_hint(f"{library_name} {query}")
        is_description = words >= 2 or not scores
        # For a one-word name the query adds evidence only with words beyond the name itself
        # (an agent often repeats the name there); otherwise summaries that repeat their own
        # name would outvote the documented library of that name.
        extra = " ".join(w for w in query.split() if compact(w) not in {key, ""})
        described = self._describe(
            f"{name} {query}".strip() if words >= 2 else extra, registry_hint
        )
        if is_description:
            # A spaced name ("fast api") and a description ("python http client") look alike:
            # name matches and covering summaries compete, and popularity settles it.
            for position, coverage in described:
                offer(position, coverage, MATCH_DESCRIPTION)
        prior = self._described_prior if is_description else 0.15 * self._prior
        description_bonus = dict(described)
        # The name is the description; the query is the task (or, through REST, the name
        # again), so only the name is read as a tagline.
        phrased = self._phrased(name, [p for p, _ in described]) if is_description else set()
        ranked: list[Match] = []
        for position, (similarity, reason) in scores.items():
            candidate = self.candidates[position]
            off_registry = bool(
                registry_hint and candidate.registry and candidate.registry != registry_hint
            )
            weight = OFF_REGISTRY_FACTOR if off_registry and is_description else 1.0
            score = similarity + weight * float(prior[position])
            score += 0.05 * description_bonus.get(position, 0.0)
            if position in phrased:
                score += PHRASE_WEIGHT
            if off_registry:
                score -= 0.08
            ranked.append(Match(candidate, round(score, 4), reason))
        ranked.sort(key=lambda m: (-m.score, m.candidate.library_id))
        return ranked[: max(limit, 1)]

    def _near_names(self, key: str) -> list[tuple[str, int]]:
        """The (at most 30) name keys nearest the key by indel ratio (at least FUZZY_CUTOFF),
        best first, with their index in `_choice_keys`.

        What `process.extract` over every key gives, at a third of the cost at 30k keys: the
        ratio is 200 x LCS / (both lengths), and the LCS is at most the letters the two share
        (counted with repeats), so a key sharing too few letters cannot reach the cutoff; the
        count is a few vector operations per distinct letter of `key`. The keys left keep their
        order, so ties are broken as over all of them.
        """
        wanted = np.bincount(_letter_codes(key), minlength=len(_LETTERS) + 1)
        reach = self._choice_floor.copy()
        for letter in np.flatnonzero(wanted):
            reach += np.minimum(self._choice_letters[letter], 200 * int(wanted[letter]))
        # One point below the cutoff: the bound is exact, the margin covers float rounding.
        possible = np.flatnonzero(reach >= (FUZZY_CUTOFF - 1) * len(key))
        keys = self._choice_keys
        found = process.extract(
            key,
            [keys[i] for i in possible],
            scorer=fuzz.ratio,
            limit=30,
            score_cutoff=FUZZY_CUTOFF,
        )
        return [(choice, int(possible[at])) for choice, _ratio, at in found]

    def _describe(self, text: str, registry_hint: str = "") -> list[tuple[int, float]]:
        """Candidates that the words describe, with how well (0..1), best first.

        Two kinds of evidence: a candidate's own name and summary covering the words (IDF-
        weighted share, and BM25 for how central they are), and other packages that cover the
        words and name the candidate ("pytest-xdist: pytest plugin for distributed testing"
        speaks for pytest). Ecosystem words ("python", "typescript") and generic ones
        ("library") are not matched as text: the registry hint stands for the former.
        """
        words = [w for w in text.split() if w.lower() not in _GENERIC_WORDS] or text.split()
        content = [w for w in words if compact(w) not in _ECOSYSTEM_WORDS] or words
        terms = query_terms(" ".join(content), description_terms)
        if not terms:
            return []
        index = self._descriptions
        own = _covered(index, terms, self._anchored)
        said = _covered(self._summaries, terms)
        if own is None or said is None:
            return []
        if registry_hint:
            off = (self._registry != registry_hint) & (self._registry != "")
            own[off] *= OFF_REGISTRY_FACTOR
            said[off] *= OFF_REGISTRY_FACTOR
        votes = np.bincount(
            self._ref_target,
            weights=said[self._ref_source] ** 2 * self._ref_weight * self._ref_norm,
            minlength=index.doc_count,
        ).astype(np.float32)
        # A package named by a query word is matched by that word, not spoken for by others.
        for word in words:
            for position in self._exact.get(compact(word), ()):
                votes[position] = 0.0
            for position in self._package.get(compact(word), ()):
                votes[position] = 0.0
        # Either kind of evidence can carry a candidate; both together carry it further.
        spoken_for = ASSOCIATION_WEIGHT * (1.0 - np.exp(-votes / ASSOCIATION_SCALE))
        relevance = 1.0 - (1.0 - own) * (1.0 - spoken_for)
        eligible = relevance >= DESCRIPTION_FLOOR * float(relevance.max(initial=0.0))
        eligible &= relevance > 0
        count = min(20, int(eligible.sum()))
        if count == 0:
            return []
        ranking = np.where(eligible, relevance + self._described_prior, -1.0)
        best = np.argpartition(-ranking, count - 1)[:count]
        best = best[np.argsort(-ranking[best], kind="stable")]
        return [(int(p), DESCRIPTION_MATCH_WEIGHT * float(relevance[p])) for p in best]

    def _scoped_only(self, position: int, key: str) -> bool:
        """Whether the candidate answers to `key` only as a scoped npm name (@scope/name)."""
        candidate = self.candidates[position]
        spellings = [n for n in (candidate.title, *candidate.names) if compact(n) == key]
        return bool(spellings) and all(n.startswith("@") for n in spellings)

    def _branded(self, name: str) -> list[int]:
        """Packages the name calls by brand and name: its last word names the package, and
        the whole phrase is how the package's summary, or a summary naming it, calls it."""
        words = _NON_ALNUM.sub(" ", name.lower()).split()
        if len(words) < 2:
            return []
        last = words[-1]
        phrase = f" {' '.join(words)} "
        found: list[int] = []
        for position in {*self._exact.get(last, ()), *self._package.get(last, ())}:
            start, end = self._referrer_bounds[position], self._referrer_bounds[position + 1]
            speakers = [position, *self._referrer_sources[start:end].tolist()]
            if any(phrase in self._spaced[s] for s in speakers):
                found.append(position)
        return found

    def _made_by(self, name: str) -> list[int]:
        """The packages a short query names beside their makers ("facebook react").

        The name is the query word that names the most used package (exactly, as a package, or
        without its major version: "jinja" is jinja2); every other word must be a maker's name
        (see MAKER_CAPITALISED), and one at least must not be a language ("python requests"
        is left to the other rules).
        """
        words = name.split()
        if not 2 <= len(words) <= MAKER_MAX_WORDS:
            return []
        named: list[tuple[float, int, list[int]]] = []
        for at, word in enumerate(words):
            key = compact(word)
            found = [
                *self._exact.get(key, ()),
                *self._package.get(key, ()),
                *self._unversioned.get(key, ()),
            ]
            if found:
                named.append((max(float(self._popularity[p]) for p in found), at, found))
        if not named:
            return []
        _, at, found = max(named, key=lambda item: (item[0], -item[1]))
        others = [compact(w) for i, w in enumerate(words) if i != at]
        if all(w in _ECOSYSTEM_WORDS for w in others):
            return []
        if not all(w in _ECOSYSTEM_WORDS or self._is_maker(w) for w in others):
            return []
        return found

    def _is_maker(self, word: str) -> bool:
        if not word or word in _GENERIC_WORDS:
            return False
        uses = self._uses.get(word, 0)
        if uses < MAKER_MIN_USES:
            return True
        return self._capitalised.get(word, 0) >= MAKER_CAPITALISED * uses

    def _phrased(self, text: str, positions: Sequence[int]) -> set[int]:
        """Of these candidates, those whose summary opens with the text's content words."""
        words = [w for w in text.split() if w.lower() not in _GENERIC_WORDS]
        content = [w for w in words if compact(w) not in _ECOSYSTEM_WORDS]
        terms = description_terms(" ".join(content))
        if len(terms) < PHRASE_MIN_TERMS:
            return set()
        return {
            p
            for p in positions
            if description_terms(self.candidates[p].description)[: len(terms)] == terms
        }

    def _anchored(self, term: str) -> FloatArray | None:
        """0..ANCHOR_CREDIT per candidate: what share of the packages naming it use the term,
        or ABOUT_CREDIT when its README's opening uses it; None when neither credits anyone."""
        holders = self._summaries.postings(term)
        credit: FloatArray | None = None
        if holders is not None and len(self._ref_source):
            has_term = np.zeros(len(self.candidates), dtype=np.float32)
            has_term[holders] = 1.0
            using = np.bincount(
                self._ref_target,
                weights=self._ref_weight * has_term[self._ref_source],
                minlength=len(self.candidates),
            )
            share = using / np.maximum(self._referrers, 1.0)
            credit = (ANCHOR_CREDIT * np.minimum(1.0, share / ANCHOR_SHARE)).astype(np.float32)
        about = self._abouts.postings(term)
        if about is not None:
            if credit is None:
                credit = np.zeros(len(self.candidates), dtype=np.float32)
            credit[about] = np.maximum(credit[about], ABOUT_CREDIT)
        return credit


def doc_term_shares(texts: Sequence[str]) -> list[tuple[str, float]]:
    """(description word, share of the texts using it), most used first: the
    DOC_TERMS_STORED most used words of at least DOC_TERMS_MIN_SNIPPETS texts."""
    counts = Counter(term for text in texts for term in set(description_terms(text)))
    used = [(term, n) for term, n in counts.items() if n >= DOC_TERMS_MIN_SNIPPETS]
    used.sort(key=lambda item: (-item[1], item[0]))
    total = max(len(texts), 1)
    return [(term, round(n / total, 4)) for term, n in used[:DOC_TERMS_STORED]]


def _key_terms(candidates: Sequence[Candidate], summaries: LexicalIndex) -> list[list[str]]:
    """Each candidate's DOC_KEY_TERMS most distinctive documentation words (see there)."""
    top: dict[str, tuple[float, float]] = {}  # a word's two largest shares among libraries
    for candidate in candidates:
        for term, share in candidate.doc_terms:
            first, second = top.get(term, (0.0, 0.0))
            top[term] = (share, first) if share > first else (first, max(second, share))
    documents = summaries.doc_count
    keys: list[list[str]] = []
    for candidate in candidates:
        scored: list[tuple[float, str]] = []
        for term, share in candidate.doc_terms:
            holders = summaries.postings(term)
            background = ((len(holders) if holders is not None else 0) + 1) / (documents + 1)
            first, second = top[term]
            elsewhere = second if share >= first else first
            floor = max(background, elsewhere)
            if share > floor:
                scored.append((share * math.log(share / floor), term))
        scored.sort(key=lambda item: (-item[0], item[1]))
        keys.append([term for _, term in scored[:DOC_KEY_TERMS]])
    return keys


def _covered(
    index: LexicalIndex,
    terms: dict[str, float],
    borrowed: Callable[[str], FloatArray | None] | None = None,
) -> FloatArray | None:
    """0..1 per document: the IDF-weighted share of the words it holds, times how central
    they are to it (BM25 relative to the best); None when no word carries weight.

    `borrowed`, when given, credits a document with a word it lacks but others use of it.
    """
    coverage = np.zeros(index.doc_count, dtype=np.float32)
    total = 0.0
    for term in terms:
        holders = index.postings(term)
        held = borrowed(term) if borrowed is not None else None
        if holders is None:
            # An unknown word still counts against every candidate, but what it borrows.
            idf = math.log1p(index.doc_count)
            if held is not None:
                coverage += idf * held
            total += idf
            continue
        idf = index.idf_of(term)
        if held is None:
            coverage[holders] += idf
        else:
            held[holders] = 1.0
            coverage += idf * held
        total += idf
    if total <= 0:
        return None
    coverage /= total
    lexical = index.score(terms)
    top = float(lexical.max()) or 1.0
    covered: FloatArray = coverage * (CENTRALITY_FLOOR + (1.0 - CENTRALITY_FLOOR) * lexical / top)
    return covered


def _capitalisation(summaries: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
    """How often each word is used inside the summaries' sentences (not first in one), and how
    often capitalised there: proper nouns (makers, products) stand out from common words."""
    uses: dict[str, int] = {}
    capitalised: dict[str, int] = {}
    for summary in summaries:
        for sentence in _SENTENCES.split(summary):
            for word in _WORD.findall(sentence)[1:]:
                lower = word.lower()
                uses[lower] = uses.get(lower, 0) + 1
                if word[0].isupper():
                    capitalised[lower] = capitalised.get(lower, 0) + 1
    return uses, capitalised


def _owners(candidates: Sequence[Candidate]) -> dict[tuple[str, str], list[int]]:
    """(registry, lower-cased package name) -> the candidates that carry that name."""
    owners: dict[tuple[str, str], list[int]] = {}
    for position, candidate in enumerate(candidates):
        for name in {n.lower() for n in candidate.names}:
            owners.setdefault((candidate.registry, name), []).append(position)
    return owners


def _references(candidates: Sequence[Candidate]) -> tuple[IntArray, IntArray, FloatArray]:
    """Edges (source, target, weight): the source package names the target.

    By its own name ("pytest-cov", "@jest/core", "types-requests" name pytest, jest and
    requests) or, more weakly, in its summary. Only within one registry.
    """
    owners = _owners(candidates)
    edges: dict[tuple[int, int], float] = {}

    def link(source: int, registry: str, name: str, weight: float) -> None:
        if len(name) < 2 or name in STOPWORDS:
            return
        for target in owners.get((registry, name), ()):
            if target != source and edges.get((source, target), 0.0) < weight:
                edges[(source, target)] = weight

    for position, candidate in enumerate(candidates):
        registry = candidate.registry
        for name in candidate.names:
            for part in _name_parts(name.lower()):
                link(position, registry, part, NAME_REFERENCE_WEIGHT)
        for word in _MENTION.findall(candidate.description.lower()):
            link(position, registry, word.rstrip("."), SUMMARY_REFERENCE_WEIGHT)
    if not edges:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, np.zeros(0, dtype=np.float32)
    pairs = np.asarray(list(edges), dtype=np.int32)
    return pairs[:, 0], pairs[:, 1], np.asarray(list(edges.values()), dtype=np.float32)


_SUCCESSOR = re.compile(
    r"\b(?:use|install)\s+[`'\"]?(?P<use>@?[a-z0-9][\w.@/-]*?)[`'\"]?\s+instead\b"
    r"|\brenamed\s+to\s+[`'\"]?(?P<renamed>@?[a-z0-9][\w.@/-]*?)[`'\"]?(?:[\s.,;)]|$)"
    r"|\bmoved\s+to\s+[`'\"]?(?P<moved>@?[a-z0-9][\w.@/-]*?)[`'\"]?(?:[\s.,;)]|$)"
    r"|^dummy\s+package\s+for\s+(?:[^()]*\((?P<dummy_of>@?[a-z0-9][\w.@/-]*)\)"
    r"|(?P<dummy>@?[a-z0-9][\w.@/-]*)\s*$)",
    re.IGNORECASE,
)


def _successors(candidates: Sequence[Candidate]) -> dict[int, int]:
    """Stub packages that point elsewhere ("deprecated sklearn package, use scikit-learn
    instead", "Dummy package for Beautiful Soup (beautifulsoup4)", "Renamed to rehype"), to
    the package they name in the same registry: asking for the stub means its successor."""
    owners = _owners(candidates)
    successors: dict[int, int] = {}
    for position, candidate in enumerate(candidates):
        if candidate.is_documented or not candidate.description:
            continue
        found = _SUCCESSOR.search(candidate.description.strip())
        if found is None:
            continue
        named = next(group for group in found.groups() if group).lower().rstrip(".")
        targets = [] if named in STOPWORDS else owners.get((candidate.registry, named), [])
        if targets and targets[0] != position:
            successors[position] = targets[0]
    # A chain ends where it ends; a cycle is left alone.
    for position in list(successors):
        seen = {position}
        target = successors[position]
        while target in successors and target not in seen:
            seen.add(target)
            target = successors[target]
        if target in seen:
            del successors[position]
        else:
            successors[position] = target
    return successors


def _spaced(text: str) -> str:
    """Lower-cased words separated by single spaces, with a space at each end."""
    return f" {' '.join(_NON_ALNUM.sub(' ', text.lower()).split())} "


def _scope_mains(candidates: Sequence[Candidate]) -> dict[str, int]:
    """Compacted npm scope ("angular", "nestjs") -> its main package: the member named `core`
    or like the scope, else the most downloaded."""
    best: dict[str, tuple[tuple[int, int], int]] = {}
    for position, candidate in enumerate(candidates):
        for package in candidate.names:
            scope, slash, member = package.lower().lstrip("@").partition("/")
            if not package.startswith("@") or not slash or not scope:
                continue
            is_main = member in ("core", scope)
            rank = candidate.popularity_rank if candidate.popularity_rank > 0 else 10**9
            order = (0 if is_main else 1, rank)
            key = compact(scope)
            if key not in best or order < best[key][0]:
                best[key] = (order, position)
    return {key: position for key, (_order, position) in best.items()}


def _name_parts(name: str) -> list[str]:
    """Leading runs of a package name's segments: "@jest/core" -> jest, "pytest-asyncio-x" ->
    pytest, pytest-asyncio. A family shares its first segments; last ones ("-cli", "-utils")
    say what a package is, not whose it is."""
    pieces = _NAME_SEPARATOR.split(name.lstrip("@"))
    return ["".join(pieces[: 2 * last + 1]) for last in range(min(3, len(pieces) // 2))]


def _is_acronym_query(name: str) -> bool:
    """A name that may be initials: two or three letters, or up to five written in capitals
    ("GCS", "pil"; "flsk" is more likely a slip than initials)."""
    word = name.strip()
    return word.isalpha() and (2 <= len(word) <= 3 or (len(word) <= 5 and word.isupper()))


def _acronyms(candidates: Sequence[Candidate]) -> dict[str, list[int]]:
    """Initials -> candidates whose summary names them by a run of capitalised words: each
    run's leading and trailing parts of two words or more ("Google Cloud Storage API" gives
    gc, gcs, gcsa; "AWS Cloud Development Kit" gives cdk and dk too)."""
    found: dict[str, list[int]] = {}
    for position, candidate in enumerate(candidates):
        keys: set[str] = set()
        for run in _CAPITALISED_RUN.findall(candidate.description):
            initials = "".join(word[0] for word in run.split()).lower()
            for size in range(2, min(len(initials), ACRONYM_MAX_WORDS) + 1):
                keys.add(initials[:size])
                keys.add(initials[-size:])
        for key in keys:
            found.setdefault(key, []).append(position)
    return found


def _variants(key: str) -> list[tuple[str, float]]:
    """The name and its common ecosystem spellings ("nextjs" -> "next", "pyyaml" -> "yaml")."""
    variants = [(key, 1.0)]
    for suffix in ("js", "py"):
        if key.endswith(suffix) and len(key) > len(suffix) + 2:
            variants.append((key[: -len(suffix)], 0.96))
    for prefix in ("py", "python"):
        if key.startswith(prefix) and len(key) > len(prefix) + 2:
            variants.append((key[len(prefix) :], 0.9))
    variants.append((key + "js", 0.95))
    # Registry conventions around the common name: opencv-python, python-dateutil, node-forge.
    if len(key) >= 3:
        variants.extend([(key + "python", 0.93), ("python" + key, 0.93), ("node" + key, 0.93)])
    return variants


def _letter_codes(key: str) -> np.ndarray:
    """Each character of the key as its index in _LETTERS (len(_LETTERS) for any other)."""
    code_points = np.frombuffer(key.encode("utf-32-le"), dtype=np.uint32)
    # 255 is no letter of _LETTERS, so every code point past it counts as "other" too.
    return _LETTER_CODE[np.minimum(code_points, 255)]


def _letter_counts(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For Resolver._near_names: 200 x how often each letter occurs in each key (a row per
    letter, a column per key) and -(FUZZY_CUTOFF - 1) x each key's length."""
    codes = [_letter_codes(key) for key in keys]
    lengths = np.fromiter((len(c) for c in codes), dtype=np.int64, count=len(codes))
    counts = np.zeros((len(_LETTERS) + 1, len(keys)), dtype=np.int32)
    if codes:
        np.add.at(counts, (np.concatenate(codes), np.repeat(np.arange(len(keys)), lengths)), 200)
    return counts, (-(FUZZY_CUTOFF - 1) * lengths).astype(np.int32)


def repo_name(library_id: str) -> str:
    """ "/fastapi/fastapi" -> "fastapi"."""
    return library_id.rstrip("/").rsplit("/", 1)[-1]


def _registry_hint(text: str) -> str:
    is_python = bool(_PYTHON_HINT.search(text))
    is_js = bool(_JS_HINT.search(text))
    if is_python and not is_js:
        return "pypi"
    if is_js and not is_python:
        return "npm"
    return ""


def _popularity(candidate: Candidate) -> float:
    """0..1: how widely used, by the registry's download rank or by stars, whichever says more."""
    downloads = (
        max(0.0, 1.0 - math.log10(candidate.popularity_rank) / 4.5)
        if candidate.popularity_rank > 0
        else 0.0
    )
    stars = min(math.log10(candidate.stars + 1) / 5.0, 1.0) if candidate.stars > 0 else 0.0
    return max(downloads, stars)


def _prior(candidate: Candidate) -> float:
    """0..1: documented, popular, starred, trusted libraries first; forks and clones last."""
    prior = 0.0
    if candidate.is_documented:
        prior += 0.35
        prior += 0.15 * min(math.log10(candidate.snippet_count + 1) / 4.0, 1.0)
    if candidate.popularity_rank > 0:
        prior += 0.3 * max(0.0, 1.0 - math.log10(candidate.popularity_rank) / 4.5)
    if candidate.stars > 0:
        prior += 0.1 * min(math.log10(candidate.stars + 1) / 5.0, 1.0)
    prior += 0.1 * min(max(candidate.trust_score, 0.0), 10.0) / 10.0
    return prior
