"""Answering one question across libraries: which libraries, how well each answers, one ranking."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import orjson
from twinmcp.search.answering import Answerer
from twinmcp.search.cache import ANSWER_FORMAT
from twinmcp.search.catalog import Catalog
from twinmcp.search.errors import InvalidInputError
from twinmcp.search.indexes import Indexes
from twinmcp.search.lexical import query_terms
from twinmcp.search.library import LibraryInfo, VersionInfo
from twinmcp.search.libraryid import parse_library_id
from twinmcp.search.limits import (
    MAX_BUDGET,
    MAX_FORMAT_CHARS,
    MAX_QUERY_CHARS,
    MAX_VERSION_CHARS,
    check_length,
)
from twinmcp.search.ownertext import clean_snippet, rules_within
from twinmcp.search.packing import DEFAULT_BUDGET, MINIMUM_SNIPPETS, RELEVANCE_FLOOR
from twinmcp.search.projects import LockedPackage, project_label, project_note
from twinmcp.search.ranking import Ranked, VersionIndex
from twinmcp.search.rendering import RULES_FRAMING, render, withheld_note
from twinmcp.search.resolution import (
    MATCH_DESCRIPTION,
    Candidate,
    Resolver,
    compact,
    repo_name,
    strip_version,
)
from twinmcp.search.snippets import KIND_CODE, SnippetRecord, cost
from twinmcp.search.tokenizer import identifier_terms
from twinmcp.tokens import count_tokens

MAX_HINTS = 4
MAX_HINT_CHARS = 300
MAX_LANGUAGE_CHARS = 32
# Without hints, at most this many documented libraries are probed (their indexes loaded and
# scored for the query's words): those the query names, then those resolution matches to the
# query read as a description, then the most popular. A probe costs about 0.3 ms a library.
MAX_PROBED_LIBRARIES = 24
# A library whose documentation answers less than this share of the best one's is left out.
LIBRARY_FLOOR = 0.6
# A library's hits are ranked at (its relevance share) ** LIBRARY_SHARPNESS of their own
# score, so a second library's best snippet comes after the first library's good ones, not
# between its first and second.
LIBRARY_SHARPNESS = 3.0
# A library the query names ("... in httpx") is what the user means, more than word overlap.
NAMED_BOOST = 1.5
# A code identifier the query quotes ("request.remote_addr", "EventSource") that some of the
# candidate libraries' documentation holds and others do not points at those, as strongly as a
# name (the same factor, not tuned). Measured with the local model, no hint / three hints, right
# library first and MRR, dev / held-out / held-out 2: 0.887 -> 0.900 / 0.912 (same), MRR 0.753
# -> 0.766 / 0.785 (same); held-out 0.938 (same) / 0.963, MRR 0.822 -> 0.827 / 0.835 -> 0.840;
# held-out 2 unchanged.
IDENTIFIER_BOOST = NAMED_BOOST
# A library's relevance: the mean BM25F of its best 1% of snippets (at least 3, at most 20),
# with IDF over every candidate library's snippets together. Measured on the 80 dev questions
# with no hint (the right library scoring best): best 1% 70/80, a fixed best 5 67/80 (a large
# library has more chances of a few good matches), the best snippet alone 59/80, each library's
# own IDF 40/80; a z-score of the best snippets 23/80, a Bernoulli word model per library 64/80,
# adding phrase evidence or a word-ownership prior no gain.
RELEVANCE_SHARE = 0.01
RELEVANCE_MIN_K = 3
RELEVANCE_MAX_K = 20
# With vectors, a library's relevance also weighs how close its best snippets come to the query
# (dense_relevance, blend_relevance). Tuned on the 80 dev questions, then checked once on the
# held-out ones (bench.eval --mode crosslib --ranking model --set dev|heldout), no hint / three
# hints: right library first dev 0.875 -> 0.900 / 0.887 -> 0.925, held-out 0.950 -> 0.950 /
# 0.950 -> 0.963; MRR dev 0.767 -> 0.775 / 0.781 -> 0.799, held-out 0.810 -> 0.814 / 0.813 ->
# 0.827. Weight 0.5 or 0.7 put the right library first less often (0.863, 0.825 dev, no hint).
DENSE_WEIGHT = 0.25
DENSE_TEMPERATURE = 0.05
# A question that names its language ("... from Node", "in Python") is about a library for it:
# the others' relevance counts 1 / OFF_LANGUAGE_FACTOR less, as a name counts more (the same
# factor, not tuned). Only words that name nothing else: not "go", "swift", "c", nor "py" or
# "js" (a "main.py" or "css and js files" question is as often about a Python web framework).
OFF_LANGUAGE_FACTOR = NAMED_BOOST
_QUESTION_LANGUAGE = re.compile(
    r"\b(python3?|pypi|pip|node(?:\.?js)?|javascript|typescript|npm|golang|rust|cargo|java|"
    r"kotlin|ruby|php|elixir|scala|dart|flutter)\b",
    re.IGNORECASE,
)
# Near-duplicates across libraries (a README copied into two repositories): MinHash agreement.
DUPLICATE_JACCARD = 0.75

REASON_HINT = "hint"
REASON_NAMED = "named"
REASON_CONTENT = "content"
# The request's project locks one of its packages: with a project and no hints, its documented
# dependencies are the candidates (and libraries the question names), not every library.
REASON_PROJECT = "project"

# Programming-language families: a code snippet tagged with any of these names is in that family.
LANGUAGE_FAMILIES: dict[str, frozenset[str]] = {
    "python": frozenset(["python", "py", "python3", "py3", "pycon", "ipython", "pyi", "pyodide"]),
    "javascript": frozenset(
        ["javascript", "js", "jsx", "mjs", "cjs", "typescript", "ts", "tsx", "node", "nodejs"]
    ),
    "go": frozenset(["go", "golang"]),
    "rust": frozenset(["rust", "rs"]),
    "java": frozenset(["java"]),
    "kotlin": frozenset(["kotlin", "kt", "kts"]),
    "ruby": frozenset(["ruby", "rb", "erb"]),
    "php": frozenset(["php"]),
    "csharp": frozenset(["csharp", "cs", "c#", "dotnet"]),
    "c": frozenset(["c", "h"]),
    "cpp": frozenset(["cpp", "c++", "cxx", "hpp", "cc"]),
    "swift": frozenset(["swift"]),
    "dart": frozenset(["dart", "flutter"]),
    "elixir": frozenset(["elixir", "ex", "exs"]),
    "scala": frozenset(["scala"]),
}
_FAMILY_OF = {name: family for family, names in LANGUAGE_FAMILIES.items() for name in names}
# Code that is not a programming language (commands, configuration, markup) answers a question
# in any language: `pip install ...` belongs in a Python answer.
NEUTRAL_LANGUAGES = frozenset(
    [
        "", "text", "txt", "plaintext", "none", "console", "shell", "sh", "bash", "zsh",
        "shell-session", "powershell", "ps1", "bat", "cmd", "json", "jsonc", "json5", "yaml",
        "yml", "toml", "ini", "cfg", "env", "dotenv", "dockerfile", "docker", "http", "sql",
        "html", "css", "xml", "csv", "markdown", "md", "diff", "graphql", "nginx", "makefile",
    ]
)  # fmt: skip
_REGISTRY_FAMILY = {
    "pypi": "python",
    "npm": "javascript",
    "crates": "rust",
    "go": "go",
    "maven": "java",
    "rubygems": "ruby",
    "packagist": "php",
    "nuget": "csharp",
    "pub": "dart",
    "hex": "elixir",
}
_WORD = re.compile(r"[A-Za-z0-9@][A-Za-z0-9._+#-]*(?:/[A-Za-z0-9._-]+)*")


def language_family(language: str) -> str:
    """The family a `language` argument names ("" for none); unknown names are refused."""
    name = language.strip().lower()
    if not name:
        return ""
    family = _FAMILY_OF.get(name)
    if family is None:
        raise InvalidInputError(
            f"language {language[:40]!r} is not one search knows; use one of "
            f"{', '.join(LANGUAGE_FAMILIES)} (typescript counts as javascript), or leave it empty"
        )
    return family


def is_in_family(snippet: SnippetRecord, family: str) -> bool:
    """Whether the snippet may answer in `family`: prose and neutral code always may."""
    if not family or snippet.kind != KIND_CODE:
        return True
    language = snippet.language.strip().lower()
    return language in NEUTRAL_LANGUAGES or _FAMILY_OF.get(language) == family


def question_family(query: str) -> str:
    """The language family the question names, when it names exactly one ("" otherwise)."""
    families = set()
    for word in _QUESTION_LANGUAGE.findall(query):
        word = word.lower()
        if word in ("pypi", "pip"):
            families.add("python")
        elif word in ("npm",) or word.startswith("node"):
            families.add("javascript")
        elif word == "cargo":
            families.add("rust")
        else:
            families.add(_FAMILY_OF.get(word, word))
    return families.pop() if len(families) == 1 else ""


def library_families(info: LibraryInfo, index: VersionIndex | None) -> set[str]:
    """The languages a library is for: its packages' registries, else its code examples'."""
    families = {
        _REGISTRY_FAMILY[p.registry]
        for p in info.meta.documented_packages
        if p.registry in _REGISTRY_FAMILY
    }
    if families or index is None:
        return families
    counts: dict[str, int] = {}
    for language, count in index.code_languages().items():
        family = _FAMILY_OF.get(language)
        if family:
            counts[family] = counts.get(family, 0) + count
    total = sum(counts.values())
    # A family of at least a fifth of the examples: TypeScript docs with some shell and Python.
    return {family for family, count in counts.items() if total and count * 5 >= total}


def _is_for_others(target: Target, index: VersionIndex, family: str) -> bool:
    """Whether the library is known to be for languages other than `family`."""
    families = library_families(target.info, index)
    return bool(families) and family not in families


def library_relevance(indexes: Sequence[VersionIndex], query: str) -> list[float]:
    """How well each library's documentation matches the query's words, comparable across them.

    BM25F scores of different indexes are not comparable: each weighs a word by its own IDF,
    so "pydantic" is a common word in pydantic's docs and a rare one in FastAPI's. Here every
    index's term scores are re-weighted by the IDF over all the indexes' snippets together.
    """
    terms = query_terms(query)
    total_docs = sum(index.lexical.doc_count for index in indexes)
    shared_idf: dict[str, float] = {}
    for term in terms:
        df = 0
        for index in indexes:
            postings = index.lexical.postings(term)
            df += 0 if postings is None else len(postings)
        if df:
            shared_idf[term] = math.log1p((total_docs - df + 0.5) / (df + 0.5))
    out: list[float] = []
    for index in indexes:
        lexical = index.lexical
        totals = np.zeros(lexical.doc_count, dtype=np.float32)
        for term, weight in terms.items():
            term_id = lexical.vocabulary.get(term)
            own_idf = lexical.idf_of(term)
            if term_id is None or own_idf <= 0:
                continue
            start, end = lexical.indptr[term_id], lexical.indptr[term_id + 1]
            factor = np.float32(weight * shared_idf[term] / own_idf)
            totals[lexical.doc_ids[start:end]] += factor * lexical.scores[start:end]
        out.append(_best_share_mean(totals))
    return out


def _best_share_mean(scores: np.ndarray) -> float:
    """The mean of a library's best RELEVANCE_SHARE of snippet scores (at least
    RELEVANCE_MIN_K, at most RELEVANCE_MAX_K); 0 for a library without snippets."""
    if not scores.size:
        return 0.0
    wanted = round(RELEVANCE_SHARE * scores.size)
    count = min(max(wanted, RELEVANCE_MIN_K), RELEVANCE_MAX_K, scores.size)
    return float(np.partition(scores, scores.size - count)[scores.size - count :].mean())


def identifier_owners(indexes: Sequence[VersionIndex], query: str) -> list[bool]:
    """For each library, whether its documentation holds a code identifier the query quotes
    that not every one of the libraries holds (an identifier all of them hold tells nothing)."""
    owners = [False] * len(indexes)
    for term in identifier_terms(query):
        holders = [n for n, index in enumerate(indexes) if index.lexical.postings(term) is not None]
        if len(holders) < len(indexes):
            for n in holders:
                owners[n] = True
    return owners


def dense_relevance(indexes: Sequence[VersionIndex], query_vector: np.ndarray) -> list[float]:
    """How close each library's best snippets come to the query in the embedding space: the
    mean cosine of its best 1% (as library_relevance), comparable across libraries as BM25 is
    not, since every library is embedded by the same model."""
    return [
        0.0 if index.vectors is None else _best_share_mean(index.vectors @ query_vector)
        for index in indexes
    ]


def blend_relevance(lexical: Sequence[float], dense: Sequence[float]) -> list[float]:
    """One relevance per library from the keyword and the dense evidence: each as a share of
    its best library (dense as exp((cosine - best) / DENSE_TEMPERATURE): cosines differ by
    hundredths), combined geometrically with DENSE_WEIGHT."""
    top_lexical = max(lexical, default=0.0)
    top_dense = max(dense, default=0.0)
    out: list[float] = []
    for word_score, cosine in zip(lexical, dense, strict=True):
        word_share = word_score / top_lexical if top_lexical > 0 else 1.0
        dense_share = math.exp((cosine - top_dense) / DENSE_TEMPERATURE)
        out.append(word_share ** (1.0 - DENSE_WEIGHT) * dense_share**DENSE_WEIGHT)
    return out


def library_names(candidate: Candidate) -> set[str]:
    """The compacted names a query may call a library by: title, repository, packages."""
    names = {compact(candidate.title), compact(repo_name(candidate.library_id))}
    names.update(compact(name) for name in candidate.names)
    # Too short to tell a name from a word ("go", "re").
    return {name for name in names if len(name) >= 3}


def query_names(query: str) -> set[str]:
    """What the query could be naming: each word, compacted, and adjacent pairs ("fast api")."""
    words = [compact(word) for word in _WORD.findall(query)]
    found = {word for word in words if word}
    found.update(a + b for a, b in itertools.pairwise(words) if a and b)
    for word in _WORD.findall(query):
        # "Starlette/FastAPI", "pydantic.BaseModel", "httpx's"
        found.update(compact(part) for part in re.split(r"[/.']", word) if part)
    return found


@dataclass(frozen=True)
class Target:
    """A library version the answer searches."""

    info: LibraryInfo
    version: VersionInfo
    reason: str
    is_pinned: bool = False  # the caller asked for a version (a project's lock does not move it)
    locked_version: str = ""  # what the request's project locks of the library


@dataclass(frozen=True)
class Hit:
    snippet: SnippetRecord
    score: float
    library_id: str
    version: str


@dataclass(frozen=True)
class Searched:
    library_id: str
    version: str
    title: str
    relevance: float
    reason: str
    available_versions: list[str]
    rules: list[str]
    locked_version: str = ""


@dataclass(frozen=True)
class CrossAnswer:
    """Hits in rank order; once rendered (`render_answer`), exactly the ones `text` shows."""

    hits: list[Hit]
    libraries: list[Searched]
    tokens_used: int  # once rendered, tokens of `text`
    withheld_snippets: int = 0
    is_cached: bool = False
    text: str = ""
    # The libraries were chosen among the request's project's dependencies (REASON_PROJECT),
    # whether or not any of them cleared the floor.
    is_project_scoped: bool = False

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "text": self.text,
                "tokens_used": self.tokens_used,
                "withheld_snippets": self.withheld_snippets,
                "project_scoped": self.is_project_scoped,
                "libraries": [
                    [s.library_id, s.version, s.title, s.relevance, s.reason,
                     s.available_versions, s.rules, s.locked_version]
                    for s in self.libraries
                ],
                "hits": [
                    [h.score, h.library_id, h.version, *h.snippet.to_row()] for h in self.hits
                ],
            }
        )  # fmt: skip

    @classmethod
    def from_bytes(cls, raw: bytes) -> CrossAnswer:
        data = orjson.loads(raw)
        return cls(
            hits=[Hit(SnippetRecord.from_row(r[3:]), r[0], r[1], r[2]) for r in data["hits"]],
            libraries=[Searched(*row) for row in data["libraries"]],
            tokens_used=data["tokens_used"],
            withheld_snippets=data["withheld_snippets"],
            is_cached=True,
            text=data["text"],
            is_project_scoped=bool(data.get("project_scoped", False)),
        )


NO_MATCH = (
    "\n\nNo documentation matched this question in the indexed libraries. Ask about one "
    "concept in the words the docs would use, name the library in 'libraries', or find its ID "
    "with 'resolve-library-id'."
)


def hit_tag(library_id: str, version: str) -> str:
    """The line naming a hit's library, under its title."""
    return f"Library: {library_id}, version {version}"


def search_header(answer: CrossAnswer, label: str = "") -> str:
    """What the text says before the hits: the answering libraries (with the project's locked
    versions when `label` names one), the others searched, withheld snippets, owners' rules."""
    answering = {hit.library_id for hit in answer.hits}
    listed = [
        f"{lib.title or lib.library_id} ({lib.library_id}, version {lib.version})"
        for lib in answer.libraries
        if lib.library_id in answering
    ]
    lines = [
        "# Documentation across libraries",
        f"From: {'; '.join(listed)}" if listed else "From: no library matched",
    ]
    if label:
        lines.extend(
            f"{lib.library_id}: {project_note(label, lib.version, lib.locked_version)}"
            for lib in answer.libraries
            if lib.library_id in answering
        )
    others = [lib.library_id for lib in answer.libraries if lib.library_id not in answering]
    if others:
        lines.append(f"Also searched: {', '.join(others)}")
    if answer.is_project_scoped:
        named = any(lib.reason == REASON_NAMED for lib in answer.libraries)
        lines.append(
            ("Besides the libraries the question names, only" if named else "Only")
            + f" the documented dependencies of {label or 'the project'} were searched; to "
            "search other libraries, name them in 'libraries' or leave out 'project'."
        )
    lines.append("Ask 'query-docs' with one of these IDs to go deeper into one library.")
    if answer.withheld_snippets:
        lines.append(withheld_note(answer.withheld_snippets, "the documentation"))
    for lib in answer.libraries:
        if lib.rules and lib.library_id in answering:
            lines.append(
                f"\n## Rules from the maintainers of {lib.title or lib.library_id} "
                f"(not instructions from the user)\n{RULES_FRAMING}\n"
            )
            lines.extend(f"- {rule}" for rule in lib.rules)
    return "\n".join(lines)


def render_answer(answer: CrossAnswer, budget: int, label: str = "") -> CrossAnswer:
    """The answer with its text (QueryDocs's rule, rendering.render): the header and the hits
    within `budget`, each under its library line; the hits the text shows, a first one cut to
    fit with the content shown.

    The header names the libraries whose hits the text shows: when the budget leaves out every
    hit of a library, the text is rendered again without that library's hits (its name, rules
    and project line gone from the header, so what was shown still fits, in the same order)."""
    hits = answer.hits
    while True:
        candidate = replace(answer, hits=hits)
        rendered = render(
            search_header(candidate, label),
            [hit.snippet for hit in hits],
            budget,
            tags=[hit_tag(hit.library_id, hit.version) for hit in hits],
            no_match=NO_MATCH,
        )
        shown = [
            replace(hit, snippet=snippet)
            for snippet, hit in zip(rendered.snippets, hits, strict=False)
        ]
        showing = {hit.library_id for hit in shown}
        if showing == {hit.library_id for hit in hits}:
            return replace(answer, hits=shown, tokens_used=rendered.tokens, text=rendered.text)
        hits = [hit for hit in hits if hit.library_id in showing]


def answer_key(
    targets: Sequence[Target], query: str, budget: int, family: str, label: str = ""
) -> str:
    builds = ",".join(
        sorted(f"{t.version.build_id}:{t.reason}:{t.locked_version}" for t in targets)
    )
    normalised = " ".join(query.lower().split())
    raw = f"{ANSWER_FORMAT}\0search\0{builds}\0{budget}\0{family}\0{normalised}\0{label}"
    return "search:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Ranked:
    target: Target
    index: VersionIndex
    share: float  # relevance relative to the best library
    ranked: list[Ranked]


def fuse(libraries: Sequence[_Ranked]) -> list[tuple[float, int, Ranked]]:
    """(score, library position, snippet), best first: each library's own ranking scaled by
    its share**LIBRARY_SHARPNESS, scores relative to the best (1.0)."""
    merged = [
        (item.score * library.share**LIBRARY_SHARPNESS, position, item)
        for position, library in enumerate(libraries)
        for item in library.ranked
    ]
    merged.sort(key=lambda entry: -entry[0])
    top = (merged[0][0] if merged else 0.0) or 1.0
    return [(score / top, position, item) for score, position, item in merged]


def pack_hits(
    libraries: Sequence[_Ranked],
    fused: Sequence[tuple[float, int, Ranked]],
    room: int,
    tag_tokens: Sequence[int],
    is_withheld: Callable[[int, SnippetRecord], bool],
) -> tuple[list[tuple[float, int, Ranked]], int, int]:
    """The fused hits taken in rank order while they fit, as `packing.pack` takes one
    library's, each also charged its library line, and below the relevance floor the best hit
    of each library none was taken from yet; a near-duplicate of a hit taken from another
    library is skipped (checked only for the hits that would be taken: a few)."""
    taken: list[tuple[float, int, Ranked]] = []
    signatures: list[np.ndarray] = []
    owners: list[int] = []
    used = 0
    withheld = 0
    represented: set[int] = set()  # the libraries a hit was taken from
    for score, position, item in fused:
        if len(taken) >= MINIMUM_SNIPPETS and score < RELEVANCE_FLOOR:
            # Below the floor only a searched library's best hit is still taken: when the
            # choice of library was wrong, the answer holds the right one's best snippet.
            if len(represented) == len(libraries):
                break
            if position in represented:
                continue
        if is_withheld(position, item.snippet):
            withheld += 1
            continue
        price = cost(item.snippet) + tag_tokens[position]
        if used + price > room:
            continue
        index = libraries[position].index
        at = index.positions().get(item.snippet.snippet_id)
        signature = index.minhashes[at] if at is not None else None
        if signature is not None and signatures:
            others = [n for n, owner in enumerate(owners) if owner != position]
            if others:
                agreement = (np.stack([signatures[n] for n in others]) == signature).mean(axis=1)
                if float(agreement.max()) >= DUPLICATE_JACCARD:
                    continue
        if signature is not None:
            signatures.append(signature)
            owners.append(position)
        taken.append((score, position, item))
        represented.add(position)
        used += price
    return taken, used, withheld


class CrossLibrarySearch:
    """SearchDocs over the catalog's libraries, their loaded indexes and QueryDocs's ranking.

    It uses QueryDocs's own parts (library lookup, index loading, ranking, query vectors, the
    injection screen, the answer cache) so that one library's snippets are ranked, screened and
    cached exactly as QueryDocs does; what it adds is the choice of libraries and the fusion of
    their rankings.
    """

    def __init__(self, catalog: Catalog, indexes: Indexes, answerer: Answerer) -> None:
        self.catalog = catalog
        self.indexes = indexes
        self.answerer = answerer
        self._documented: tuple[Resolver | None, list[Candidate]] = (None, [])

    async def search(
        self,
        query: str,
        libraries: Sequence[str],
        version: str,
        language: str,
        budget: int,
        project: str = "",
        locked: Sequence[LockedPackage] = (),
        project_format: str = "",
    ) -> CrossAnswer:
        """The answer, rendered (`render_answer`) within the budget; `project_format` names
        the file `locked` was read from, for the text."""
        check_length("query", query, MAX_QUERY_CHARS)
        check_length("project_format", project_format, MAX_FORMAT_CHARS)
        check_length("version", version, MAX_VERSION_CHARS)
        check_length("language", language, MAX_LANGUAGE_CHARS)
        text = query.strip()
        if not text:
            raise InvalidInputError(
                "query is empty; ask a question, e.g. 'how do I add CORS middleware'"
            )
        hints = [hint.strip() for hint in libraries]
        if len(hints) > MAX_HINTS:
            raise InvalidInputError(
                f"libraries has {len(hints)} entries; the limit is {MAX_HINTS}. Name the few "
                "libraries the question is about, or none to let search choose"
            )
        for number, hint in enumerate(hints, start=1):
            if not hint:
                raise InvalidInputError(f"library {number} is empty; give an id or a name")
            check_length(f"library {number}", hint, MAX_HINT_CHARS)
        if version.strip() and len(hints) != 1:
            raise InvalidInputError(
                f"version {version.strip()[:40]!r} needs exactly one library, not {len(hints)}; "
                "name the library it belongs to, or put each version in its id (/owner/repo/1.2)"
            )
        if budget < 0:
            raise InvalidInputError("tokens must be positive (the answer's token budget)")
        budget = min(budget or DEFAULT_BUDGET, MAX_BUDGET)
        family = language_family(language)
        project = project.strip()
        # The packages the project locks (a registered one's, or those sent), read once.
        packages = await self.catalog.project_locks(project, locked) if project or locked else []
        if hints:
            targets = await self._hinted(hints, version.strip())
        else:
            targets = await self._probed(text, packages)
        label = project_label(project, project_format.strip(), has_locked=bool(locked))
        if not targets:
            return render_answer(CrossAnswer([], [], 0), budget, label)
        if project or locked:
            targets = await self._locked(targets, packages)
        key = answer_key(targets, text, budget, family, label)
        cached = await self.answerer.cache.get(key)
        if cached is not None:
            return CrossAnswer.from_bytes(cached)
        packed = await self._answer(targets, text, budget, family, is_hinted=bool(hints))
        answer = await asyncio.to_thread(render_answer, packed, budget, label)
        await self.answerer.cache.set(key, answer.to_bytes())
        return answer

    # ---- which libraries ----------------------------------------------------------------

    async def _hinted(self, hints: Sequence[str], version: str) -> list[Target]:
        targets: dict[str, Target] = {}
        for hint in hints:
            target = await self._hint(hint, version)
            targets.setdefault(target.info.meta.library_id, target)
        return list(targets.values())

    async def _hint(self, hint: str, version: str) -> Target:
        if "/" in hint:
            ref = parse_library_id(hint, version)
            info = await self.catalog.library(ref.library_id)
            if info is None or not info.versions:
                missing = await self.catalog.unknown_library(ref.library_id)
                close = (
                    f" Close indexed libraries: {', '.join(missing.suggestions)}."
                    if (missing.suggestions)
                    else ""
                )
                raise InvalidInputError(
                    f"library {hint[:80]!r} is not indexed.{close} Give an indexed id or a name"
                )
            asked = ref.version
        else:
            name, asked = strip_version(hint)
            asked = version or asked
            resolver = await self.catalog.resolver()
            matches = await asyncio.to_thread(resolver.resolve, name, "", 5)
            documented = [m for m in matches if m.candidate.is_documented]
            # By name, package or spelling: a hint names a library, it does not describe one.
            named = [m for m in documented if m.reason != MATCH_DESCRIPTION]
            best = named[0] if named else None
            if best is None:
                close = ", ".join(m.candidate.library_id for m in documented[:3])
                raise InvalidInputError(
                    f"library {hint[:80]!r} names no documented library"
                    + (f"; close ones: {close}" if close else "")
                    + ". Give a library id such as /owner/repo, or find it with ResolveLibrary"
                )
            found = await self.catalog.library(best.candidate.library_id)
            if found is None or not found.versions:
                raise InvalidInputError(f"library {hint[:80]!r} has no documentation indexed")
            info = found
        # As QueryDocs: a range takes the best indexed version it admits; a version not
        # indexed is refused with what the registry has (LibraryInfo.version_or_raise).
        chosen = info.version_or_raise(asked)
        return Target(info, chosen, REASON_HINT, is_pinned=bool(asked))

    async def _locked(
        self, targets: Sequence[Target], packages: Sequence[LockedPackage]
    ) -> list[Target]:
        """The targets at the versions the project (its `packages`) locks, where those are
        indexed and the caller asked for no version; each remembers what the project locks."""
        ids = [target.info.meta.library_id for target in targets]
        locks = await self.catalog.locked_versions(ids, "", packages)
        out: list[Target] = []
        for target in targets:
            lock = locks.get(target.info.meta.library_id, "")
            chosen = None if target.is_pinned or not lock else target.info.select(lock)
            out.append(replace(target, version=chosen or target.version, locked_version=lock))
        return out

    async def _probed(self, query: str, packages: Sequence[LockedPackage] = ()) -> list[Target]:
        """The documented libraries worth probing: named ones, then the project's when it
        locks packages of some (`packages`: a question asked in a project is about its
        dependencies: Flask's pages do not answer a FastAPI project's CORS question), else
        described ones and popular ones."""
        resolver = await self.catalog.resolver()
        if self._documented[0] is not resolver:
            # The resolver holds the whole catalog (30k entries: 1.5 ms to filter each time);
            # it is rebuilt, a new object, whenever libraries change.
            self._documented = (resolver, [c for c in resolver.candidates if c.is_documented])
        documented = self._documented[1]
        mentioned = query_names(query)
        named = [c for c in documented if library_names(c) & mentioned]
        chosen: dict[str, tuple[Candidate, str]] = {c.library_id: (c, REASON_NAMED) for c in named}
        in_project = set(await self.catalog.project_libraries(packages)) if packages else set()
        pool = [c for c in documented if c.library_id in in_project] if in_project else documented
        why = REASON_PROJECT if in_project else REASON_CONTENT
        if len(pool) > MAX_PROBED_LIBRARIES:
            # Too many to probe: those resolution matches to the query read as a description
            # first, then the most popular.
            words = " ".join(query.split()[:32])
            matches = await asyncio.to_thread(resolver.resolve, words, words, 50)
            described = [
                m.candidate
                for m in matches
                if m.candidate.is_documented
                and (not in_project or m.candidate.library_id in in_project)
            ]
            by_reach = sorted(
                pool,
                key=lambda c: (c.popularity_rank <= 0, c.popularity_rank, -c.stars, c.library_id),
            )
            pool = [*described, *by_reach]
        for candidate in pool:
            chosen.setdefault(candidate.library_id, (candidate, why))
        targets: list[Target] = []
        for candidate, reason in list(chosen.values())[:MAX_PROBED_LIBRARIES]:
            info = await self.catalog.library(candidate.library_id)
            if info is not None and info.default is not None:
                targets.append(Target(info, info.default, reason))
        return targets

    # ---- one ranking --------------------------------------------------------------------

    async def _answer(
        self, targets: Sequence[Target], query: str, budget: int, family: str, *, is_hinted: bool
    ) -> CrossAnswer:
        scoped = any(target.reason == REASON_PROJECT for target in targets)
        indexes = [await self.indexes.get(t.version.build_id) for t in targets]
        if family and not is_hinted:
            kept = [
                (target, index)
                for target, index in zip(targets, indexes, strict=True)
                if family in (library_families(target.info, index) or {family})
            ]
            targets = [target for target, _ in kept]
            indexes = [index for _, index in kept]
        if not targets:
            return CrossAnswer([], [], 0, is_project_scoped=scoped)
        relevance = await asyncio.to_thread(library_relevance, indexes, query)
        dense = await self._dense_relevance(targets, indexes, query)
        if dense is not None:
            relevance = blend_relevance(relevance, dense)
        owners = identifier_owners(indexes, query)
        # With a `language` argument the libraries for others are already left out (unhinted).
        named = "" if family else question_family(query)
        relevance = [
            score
            * (NAMED_BOOST if target.reason == REASON_NAMED else 1.0)
            * (IDENTIFIER_BOOST if owns else 1.0)
            / (OFF_LANGUAGE_FACTOR if named and _is_for_others(target, index, named) else 1.0)
            for score, target, index, owns in zip(relevance, targets, indexes, owners, strict=True)
        ]
        best = max(relevance)
        shares = [score / best if best > 0 else 1.0 for score in relevance]
        ranked: list[_Ranked] = []
        for target, index, share in zip(targets, indexes, shares, strict=True):
            # Hinted libraries are all searched: the caller said the answer is among them.
            if share < LIBRARY_FLOOR and not is_hinted:
                continue
            version = target.version
            found = await self.answerer.rank(
                index, version.embedding_model, version.build_id, query
            )
            ranked.append(
                _Ranked(target, index, share, [r for r in found if is_in_family(r.snippet, family)])
            )
        ranked.sort(key=lambda item: -item.share)
        # The owners' rules of the searched libraries share a fifth of the budget.
        rules = [
            rules_within(item.target.info.meta.rules, budget // len(ranked)) for item in ranked
        ]
        fused = await asyncio.to_thread(fuse, ranked)
        room = budget - sum(tokens for _, tokens in rules)
        hits, used, withheld = self._pack(ranked, fused, room)
        contributing = {hit.library_id for hit in hits}
        searched: list[Searched] = []
        for item, (kept_rules, rules_tokens) in zip(ranked, rules, strict=True):
            meta = item.target.info.meta
            is_answering = meta.library_id in contributing
            used += rules_tokens if is_answering else 0
            searched.append(
                Searched(
                    library_id=meta.library_id,
                    version=item.target.version.version,
                    title=meta.title,
                    relevance=round(item.share, 4),
                    reason=item.target.reason,
                    available_versions=[v.version for v in item.target.info.versions],
                    rules=kept_rules if is_answering else [],
                    locked_version=item.target.locked_version,
                )
            )
        return CrossAnswer(hits, searched, used, withheld, is_project_scoped=scoped)

    async def _dense_relevance(
        self, targets: Sequence[Target], indexes: Sequence[VersionIndex], query: str
    ) -> list[float] | None:
        """Each library's dense relevance, when every one holds vectors of the query's model."""
        models = {t.version.embedding_model for t in targets}
        if len(models) != 1 or any(index.vectors is None for index in indexes):
            return None
        vector = await self.answerer.query_vector(models.pop(), query)
        if vector is None:
            return None
        query_vector = np.asarray(vector, dtype=np.float32)
        return await asyncio.to_thread(dense_relevance, indexes, query_vector)

    def _pack(
        self, ranked: Sequence[_Ranked], fused: Sequence[tuple[float, int, Ranked]], room: int
    ) -> tuple[list[Hit], int, int]:
        """Hits in rank order while they fit, each charged its snippet and its library line."""
        tag_tokens = [
            count_tokens(hit_tag(r.target.info.meta.library_id, r.target.version.version))
            for r in ranked
        ]

        def is_withheld(position: int, snippet: SnippetRecord) -> bool:
            return self.answerer.is_suspect(ranked[position].target.version.build_id, snippet)

        taken, used, withheld = pack_hits(ranked, fused, room, tag_tokens, is_withheld)
        hits = [
            Hit(
                clean_snippet(item.snippet),
                round(score, 4),
                ranked[position].target.info.meta.library_id,
                ranked[position].target.version.version,
            )
            for score, position, item in taken
        ]
        return hits, used, withheld
