"""The in-memory index of one library version and hybrid ranking over it (BM25F + vectors)."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import orjson
from twinmcp.search.lexical import FieldSpec, FloatArray, LexicalIndex, query_terms
from twinmcp.search.snippets import KIND_CODE, SnippetRecord, SnippetTable
from twinmcp.search.tokenizer import plain_tokenize, shared_pairs, word_pairs

# Bump when the persisted layout or the way fields are tokenised changes: older blobs are then
# rebuilt from the snippet rows on load. 6: snippets as one buffer of JSON arrays (SnippetTable);
# 7: no per-snippet section numbers (nothing read them once the section blend went).
INDEX_FORMAT = 7

# title, breadcrumb, description, content, source path
FIELDS = (
    FieldSpec(weight=2.5, b=0.3),
    FieldSpec(weight=1.5, b=0.3),
    FieldSpec(weight=1.0, b=0.5),
    FieldSpec(weight=1.0, b=0.75),
    FieldSpec(weight=1.0, b=0.3),
)

_MINHASH_SIZE = 32
_WORD_OVERHEAD = 110
_MINHASH_PRIME = (1 << 31) - 1
_rng = np.random.default_rng(20240611)
_MINHASH_A = _rng.integers(1, _MINHASH_PRIME, _MINHASH_SIZE, dtype=np.int64)
_MINHASH_B = _rng.integers(0, _MINHASH_PRIME, _MINHASH_SIZE, dtype=np.int64)
_WORD = re.compile(r"[A-Za-z0-9_]+")

RANKER_HYBRID = ""
RANKER_BM25 = "bm25"
RANKERS = (RANKER_HYBRID, RANKER_BM25)
# The baseline ranks this many snippets; packing takes them in order while they fit.
_BM25_CANDIDATES = 100


@dataclass(frozen=True)
class RankingParams:
    """Knobs of the ranking pipeline; the defaults are the measured best (bench/search_quality)."""

    # "spread": max-normalised BM25 plus cosine measured from the median snippet up (best
    # measured, and the only one the services use); "linear" (both max-normalised) and "rrf"
    # (reciprocal rank fusion) are kept for bench/search_quality.py --fusion to compare against.
    fusion: str = "spread"
    rrf_k: float = 60.0
    dense_weight: float = 0.5  # share of the dense score in spread/linear fusion
    document_weight: float = 0.2  # share of the best score of the snippet's page
    candidates: int = 60
    # Per section and kind: a section's prose and its code complement each other; two code
    # examples of one section mostly repeat. The best snippet's section has only the page cap.
    section_cap: int = 2
    # Per page: at most `document_cap` snippets, or one per `long_page_share` of the page's own
    # snippets when more: a long reference page (a whole API on one page) holds many topics,
    # and the cap of a short page kept its other sections out of the answer. bench.eval --set
    # all, model ranking, with packing's MINIMUM_FILL (2026-12-05): hit@5000 dev / held-out /
    # held-out 2 .963/.925/.887 -> .975/.950/.912 (with the migration factor .938), MRR and
    # Hit@5 unchanged; a flat cap of 8 gave the same hits but a dev tokens median of 2969
    # (target 2500; 2424 this way), sqrt(page size) 2537. With the model's vectors cut at 128
    # tokens (e343631) one per 8 took the dev median to 2511: one per 9 keeps it at 2427,
    # hit@5000 .988/.963/.938 -> .988/.963/.925, MRR and Hit@5 unchanged.
    document_cap: int = 4
    long_page_share: int = 9
    duplicate_jaccard: float = 0.75
    # Bonus (share of the best score) for a candidate holding the query's adjacent content-word
    # pairs in the same order ("handshake timed out", "remote_addr"): phrase evidence that a
    # bag of words and a sentence vector both miss.
    phrase_weight: float = 0.3
    # A chosen prose snippet brings the code block just before it in its section (see
    # `VersionIndex._example_before`), ranked at this share of the prose's score.
    example_share: float = 0.95
    # Upgrade and migration guides restate every topic as it used to be; unless the question
    # is about upgrading (UPGRADE_INTENT), their snippets count at this share. Held-out Hit@5
    # .925 -> .950, dev and held-out 2 unchanged (bench.eval --set all, model, 2026-12-05).
    migration_factor: float = 0.6
    # API reference pages ingest generates from a release's code (`twinmcp ingest pypi:...`;
    # titled REFERENCE_TITLE) restate, one signature and docstring at a time, what the written
    # documentation explains: where a library has written pages besides its README, their
    # snippets count at this share (migration_factor's, not tuned). Held-out sets ingested from
    # their registries (bench.eval --source registry, model): MRR 0.838 / 0.830 / 0.838 ->
    # 0.866 / 0.853 / 0.918, hit@5000 unchanged; from their documentation files alone (no such
    # pages) 0.868 / 0.856 / 0.935.
    reference_factor: float = 0.6


DEFAULT_PARAMS = RankingParams()


@dataclass(frozen=True)
class Ranked:
    snippet: SnippetRecord
    score: float  # relative to the best result of the query (1.0)


# A page that is an upgrade or migration guide, by its file name or its title.
_MIGRATION_FILE = re.compile(r"upgrad|migrat|porting|whats?[-_]?new", re.IGNORECASE)
_MIGRATION_TITLE = re.compile(
    r"^(upgrading|migrating|migration|upgrade guide|what'?s new)\b", re.IGNORECASE
)
# The title of an API reference page ingest generates from a package's code (ingest's
# apiref.TITLE_PREFIX; a test holds the two equal).
REFERENCE_TITLE = "API reference: "
# A README: the written page every package has, which alone does not make written documentation.
_README_FILE = re.compile(r"^readme$", re.IGNORECASE)
# A question about changes between versions, which such guides answer.
UPGRADE_INTENT = re.compile(
    r"\b(upgrad\w*|migrat\w*|deprecat\w*|no longer|now that|removed|renamed|breaking|used to|"
    r"(old|new|newer|older) (version|release)s?|v\d+|version \d+|\d+\.x)\b",
    re.IGNORECASE,
)


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _page_title(snippet: SnippetRecord) -> str:
    return snippet.breadcrumb[0] if snippet.breadcrumb else snippet.title


def is_migration_guide(snippet: SnippetRecord) -> bool:
    """Whether the snippet's page is an upgrade or migration guide."""
    return bool(
        _MIGRATION_FILE.search(_stem(snippet.source_path))
        or _MIGRATION_TITLE.search(_page_title(snippet))
    )


def is_generated_reference(snippet: SnippetRecord) -> bool:
    """Whether the snippet's page is an API reference page ingest generated from code."""
    return _page_title(snippet).startswith(REFERENCE_TITLE)


def _field_texts(snippet: SnippetRecord) -> list[str]:
    path = re.sub(r"[/_.\-]+", " ", snippet.source_path)
    return [snippet.title, " ".join(snippet.breadcrumb), snippet.description, snippet.content, path]


def _minhash(text: str) -> npt.NDArray[np.int64]:
    words = [w.lower() for w in _WORD.findall(text)]
    shingles = {" ".join(words[i : i + 2]) for i in range(max(len(words) - 1, 1))} or {""}
    hashes = np.fromiter(
        (zlib.crc32(s.encode()) for s in shingles), dtype=np.int64, count=len(shingles)
    )
    return np.asarray(
        ((np.outer(hashes, _MINHASH_A) + _MINHASH_B) % _MINHASH_PRIME).min(axis=0),
        dtype=np.int64,
    )


@dataclass
class VersionIndex:
    """Everything needed to answer queries on one published build, without the database."""

    build_id: str
    snippets: SnippetTable
    lexical: LexicalIndex
    document_of: npt.NDArray[np.int32]
    minhashes: npt.NDArray[np.int64]
    vectors: FloatArray | None  # rows L2-normalised; None without a local vector index
    embedding_model: str
    _positions: dict[str, int] | None = field(default=None, repr=False)
    _plain: LexicalIndex | None = field(default=None, repr=False)
    _memory_bytes: int | None = field(default=None, repr=False)
    # Per page, computed on first use: its snippet count, whether it is a migration guide.
    _page_sizes: npt.NDArray[np.int64] | None = field(default=None, repr=False)
    _migration_pages: npt.NDArray[np.bool_] | None = field(default=None, repr=False)
    _reference_pages: npt.NDArray[np.bool_] | None = field(default=None, repr=False)
    _code_languages: dict[str, int] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        build_id: str,
        snippets: Sequence[SnippetRecord],
        vectors: FloatArray | None = None,
        embedding_model: str = "",
    ) -> VersionIndex:
        lexical = LexicalIndex.build([_field_texts(s) for s in snippets], FIELDS)
        paths: dict[str, int] = {}
        document_of = np.asarray(
            [paths.setdefault(s.source_path, len(paths)) for s in snippets], dtype=np.int32
        )
        minhashes = (
            np.stack([_minhash(s.content) for s in snippets])
            if snippets
            else np.zeros((0, _MINHASH_SIZE), dtype=np.int64)
        )
        if vectors is not None:
            vectors = _normalise(vectors)
        return cls(
            build_id,
            SnippetTable.pack(snippets),
            lexical,
            document_of,
            minhashes,
            vectors,
            embedding_model,
        )

    def positions(self) -> dict[str, int]:
        """Snippet id -> position, for matching an external vector store's answers."""
        if self._positions is None:
            self._positions = {s.snippet_id: i for i, s in enumerate(self.snippets)}
        return self._positions

    @property
    def memory_bytes(self) -> int:
        """What the index holds in memory, about: the index cache's bound counts this."""
        if self._memory_bytes is None:
            arrays = (
                self.snippets.nbytes
                + self.lexical.indptr.nbytes
                + self.lexical.doc_ids.nbytes
                + self.lexical.scores.nbytes
                + self.document_of.nbytes
                + self.minhashes.nbytes
                + (self.vectors.nbytes if self.vectors is not None else 0)
            )
            # A vocabulary entry: the word as a str object (49 bytes + its length), its int
            # and the dict's slot, measured with tracemalloc at about 110 bytes + the length.
            words = sum(len(w) for w in self.lexical.vocabulary)
            self._memory_bytes = arrays + words + _WORD_OVERHEAD * len(self.lexical.vocabulary)
        return self._memory_bytes

    def search(
        self,
        query: str,
        query_vector: FloatArray | None = None,
        params: RankingParams = DEFAULT_PARAMS,
        *,
        dense_scores: dict[int, float] | None = None,
    ) -> list[Ranked]:
        """Snippets in rank order after fusion, duplicate removal and diversity caps.

        `dense_scores` (snippet position -> similarity) comes from an external vector store;
        `query_vector` is used against the local vectors instead.
        """
        n = len(self.snippets)
        if n == 0:
            return []
        lexical = self.lexical.score(query_terms(query))
        dense: FloatArray | None = None
        if query_vector is not None and self.vectors is not None:
            dense = self.vectors @ _normalise(query_vector.reshape(1, -1))[0]
        elif dense_scores:
            dense = np.full(n, -1.0, dtype=np.float32)
            for position, similarity in dense_scores.items():
                if 0 <= position < n:
                    dense[position] = similarity
        fused = _fuse(lexical, dense, params)
        if params.migration_factor != 1.0 and not UPGRADE_INTENT.search(query):
            is_migration = self._migration_pages_of()[self.document_of]
            fused = np.where(is_migration, fused * params.migration_factor, fused).astype(
                np.float32
            )
        if params.reference_factor != 1.0:
            is_reference = self._reference_pages_of()[self.document_of]
            fused = np.where(is_reference, fused * params.reference_factor, fused).astype(
                np.float32
            )
        if params.document_weight > 0:
            best_of_document = np.zeros(int(self.document_of.max()) + 1, dtype=np.float32)
            np.maximum.at(best_of_document, self.document_of, fused)
            fused = (1 - params.document_weight) * fused + params.document_weight * (
                best_of_document[self.document_of]
            )
        top = float(fused.max())
        if top <= 0:
            return []
        count = min(params.candidates, n)
        order = np.argpartition(-fused, count - 1)[:count]
        # Each snippet this query reads is decoded once (phrase evidence, the caps and the
        # examples all read the candidates).
        records = _Records(self.snippets)
        if params.phrase_weight > 0:
            fused = self._add_phrase_evidence(query, order, fused, top, params, records)
            top = float(fused[order].max())
        order = order[np.argsort(-fused[order], kind="stable")]
        return self._diversify(order, fused, top, params, records)

    def _add_phrase_evidence(
        self,
        query: str,
        order: npt.NDArray[np.intp],
        fused: FloatArray,
        top: float,
        params: RankingParams,
        records: _Records,
    ) -> FloatArray:
        """`fused` plus the phrase bonus on the candidates in `order`."""
        pairs = word_pairs(query)
        if not pairs:
            return fused
        fused = fused.copy()
        for position in order.tolist():
            snippet = records[position]
            found = shared_pairs(pairs, f"{snippet.title}\n{snippet.content}")
            fused[position] += params.phrase_weight * top * found / len(pairs)
        return fused

    def _document_cap(self, document: int, params: RankingParams) -> int:
        if self._page_sizes is None:
            self._page_sizes = np.bincount(self.document_of)
        return max(params.document_cap, int(self._page_sizes[document]) // params.long_page_share)

    def code_languages(self) -> dict[str, int]:
        """How many code snippets are tagged with each language (lower-cased), counted once:
        SearchDocs reads it per question to tell which languages a library is for."""
        if self._code_languages is None:
            counts: dict[str, int] = {}
            for snippet in self.snippets:
                if snippet.kind == KIND_CODE:
                    language = snippet.language.strip().lower()
                    counts[language] = counts.get(language, 0) + 1
            self._code_languages = counts
        return self._code_languages

    def _reference_pages_of(self) -> npt.NDArray[np.bool_]:
        """Per page: whether it is a generated API reference page that written pages (other
        than the README) stand beside; none is when the library has no such written page."""
        if self._reference_pages is None:
            _, first = np.unique(self.document_of, return_index=True)
            pages = [self.snippets[int(at)] for at in first]
            generated = np.asarray([is_generated_reference(p) for p in pages], dtype=bool)
            readme = np.asarray(
                [bool(_README_FILE.match(_stem(p.source_path))) for p in pages], dtype=bool
            )
            written = ~generated & ~readme
            self._reference_pages = generated if written.any() else np.zeros_like(generated)
        return self._reference_pages

    def _migration_pages_of(self) -> npt.NDArray[np.bool_]:
        """Per page: whether it is a migration guide (read from one snippet of each page)."""
        if self._migration_pages is None:
            _, first = np.unique(self.document_of, return_index=True)
            self._migration_pages = np.asarray(
                [is_migration_guide(self.snippets[int(at)]) for at in first], dtype=bool
            )
        return self._migration_pages

    def search_bm25(self, query: str) -> list[Ranked]:
        """The baseline: plain BM25 over title + content, lower-cased words, rank order only.

        No code-aware tokens, fields, vectors, page blending, diversity or duplicate removal;
        scores are relative to the best so packing's relevance floor must be off (0) for it.
        """
        if self._plain is None:
            # Built on first use: only evaluation asks for the baseline.
            self._plain = LexicalIndex.build(
                [[f"{s.title}\n{s.content}"] for s in self.snippets],
                [FieldSpec(weight=1.0, b=0.75)],
                tokenizer=plain_tokenize,
            )
        scores = self._plain.score(query_terms(query, plain_tokenize))
        if not scores.size:
            return []
        top = float(scores.max())
        if top <= 0:
            return []
        order = np.argsort(-scores, kind="stable")[:_BM25_CANDIDATES]
        positions = [p for p in order.tolist() if scores[p] > 0]
        return [Ranked(self.snippets[p], float(scores[p]) / top) for p in positions]

    def _diversify(
        self,
        order: npt.NDArray[np.intp],
        fused: FloatArray,
        top: float,
        params: RankingParams,
        records: _Records,
    ) -> list[Ranked]:
        chosen: list[Ranked] = []
        # The chosen snippets' signatures, filled in order: at most every candidate and the
        # example before each.
        width = int(self.minhashes.shape[1])
        signatures = np.empty((2 * len(order), width), dtype=self.minhashes.dtype)
        # mean(equal) >= jaccard, counted: dividing by 32 is exact, so the two agree.
        duplicate_count = params.duplicate_jaccard * width
        per_section: dict[tuple[str, str], int] = {}
        per_document: dict[int, int] = {}
        # The best section is the likeliest answer; its later parts (the fix after the symptom,
        # the code after the prose) stay, while other sections are capped for diversity.
        best_section = records[int(order[0])].section_key if len(order) else ""
        taken: set[int] = set()
        # Examples waiting for their turn: (score, position), best first.
        examples: list[tuple[float, int]] = []

        def is_duplicate(position: int) -> bool:
            if not chosen:
                return False
            same = (signatures[: len(chosen)] == self.minhashes[position]).sum(axis=1)
            return float(same.max()) >= duplicate_count

        def take(position: int, score: float) -> None:
            snippet = records[position]
            section = (snippet.section_key, snippet.kind)
            document = int(self.document_of[position])
            per_section[section] = per_section.get(section, 0) + 1
            per_document[document] = per_document.get(document, 0) + 1
            signatures[len(chosen)] = self.minhashes[position]
            chosen.append(Ranked(snippet, score / top))
            taken.add(position)

        def take_examples_down_to(score: float) -> None:
            while examples and examples[0][0] >= score:
                example_score, example = examples.pop(0)
                if example not in taken and not is_duplicate(example):
                    take(example, example_score)

        for position in order.tolist():
            score = float(fused[position])
            if score <= 0:
                break
            take_examples_down_to(score)
            if position in taken:
                continue
            snippet = records[position]
            document = int(self.document_of[position])
            section = (snippet.section_key, snippet.kind)
            if (
                snippet.section_key != best_section
                and per_section.get(section, 0) >= params.section_cap
            ):
                continue
            if per_document.get(document, 0) >= self._document_cap(document, params):
                continue
            if is_duplicate(position):
                continue
            take(position, score)
            example = self._example_before(position, records)
            if example is not None and params.example_share > 0:
                # It carries few of the question's words itself (its lead-in is its own
                # description), so it ranks by the prose that talks about it.
                examples.append((score * params.example_share, example))
                examples.sort(key=lambda item: -item[0])
        take_examples_down_to(0.0)
        return chosen

    def _example_before(self, position: int, records: _Records) -> int | None:
        """The code block that a prose snippet follows in the same section, if any.

        Chunking puts the lead-in before a code block into the code snippet's description, so
        the prose that comes after a block (the note on what the example shows, the "this
        also works with...") ranks on its own while the example it refers to does not.
        """
        snippet = records[position]
        if position == 0 or snippet.kind == KIND_CODE:
            return None
        previous = records[position - 1]
        if previous.kind != KIND_CODE or previous.section_key != snippet.section_key:
            return None
        return position - 1

    def to_bytes(self) -> bytes:
        """A self-contained blob, stored at publish so replicas load without re-tokenising."""
        buffer = io.BytesIO()
        header = {
            "format": INDEX_FORMAT,
            "build_id": self.build_id,
            "embedding_model": self.embedding_model,
            "doc_count": self.lexical.doc_count,
        }
        vocabulary = sorted(self.lexical.vocabulary, key=self.lexical.vocabulary.__getitem__)
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "header": np.frombuffer(orjson.dumps(header), dtype=np.uint8),
            "snippet_data": np.frombuffer(self.snippets.data, dtype=np.uint8),
            "snippet_offsets": self.snippets.offsets,
            "vocabulary": np.frombuffer("\n".join(vocabulary).encode(), dtype=np.uint8),
            "indptr": self.lexical.indptr,
            "doc_ids": self.lexical.doc_ids,
            "scores": self.lexical.scores,
            "document_of": self.document_of,
            "minhashes": self.minhashes,
        }
        if self.vectors is not None:
            arrays["vectors"] = self.vectors
        np.savez(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> VersionIndex | None:
        """The index stored in `blob`, or None when it was written by another format."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            header = orjson.loads(data["header"].tobytes())
            if header.get("format") != INDEX_FORMAT:
                return None
            words = data["vocabulary"].tobytes().decode()
            vocabulary = {w: i for i, w in enumerate(words.split("\n"))} if words else {}
            lexical = LexicalIndex(
                vocabulary,
                data["indptr"],
                data["doc_ids"],
                data["scores"],
                int(header["doc_count"]),
            )
            vectors = data["vectors"] if "vectors" in data.files else None
            document_of = data["document_of"]
            minhashes = data["minhashes"]
            snippets = SnippetTable(data["snippet_data"].tobytes(), data["snippet_offsets"])
        return cls(
            header["build_id"],
            snippets,
            lexical,
            document_of,
            minhashes,
            vectors,
            header["embedding_model"],
        )


class _Records:
    """A query's view of the snippet table: each snippet decoded on first read, then kept."""

    __slots__ = ("_decoded", "_table")

    def __init__(self, table: SnippetTable) -> None:
        self._table = table
        self._decoded: dict[int, SnippetRecord] = {}

    def __getitem__(self, position: int) -> SnippetRecord:
        record = self._decoded.get(position)
        if record is None:
            record = self._decoded[position] = self._table[position]
        return record


def _normalise(matrix: FloatArray) -> FloatArray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(matrix / norms, dtype=np.float32)


def _fuse(lexical: FloatArray, dense: FloatArray | None, params: RankingParams) -> FloatArray:
    if dense is None:
        return lexical
    if params.fusion == "rrf":
        fused = np.zeros_like(lexical)
        for scores, only_matching in ((lexical, True), (dense, False)):
            order = np.argsort(-scores, kind="stable")
            ranks = np.empty_like(order)
            ranks[order] = np.arange(1, len(order) + 1)
            contribution = 1.0 / (params.rrf_k + ranks)
            if only_matching:
                contribution = np.where(scores > 0, contribution, 0.0)
            fused += contribution.astype(np.float32)
        return fused
    top_lexical = float(lexical.max()) or 1.0
    if params.fusion == "spread":
        # Cosine similarities bunch together; measure them from the median snippet up.
        floor = float(np.median(dense))
        top = float(dense.max())
        spread = np.clip((dense - floor) / ((top - floor) or 1.0), 0.0, None)
        return np.asarray(
            (1 - params.dense_weight) * lexical / top_lexical + params.dense_weight * spread,
            dtype=np.float32,
        )
    positive = np.clip(dense, 0.0, None)
    top_dense = float(positive.max()) or 1.0
    return np.asarray(
        (1 - params.dense_weight) * lexical / top_lexical
        + params.dense_weight * positive / top_dense,
        dtype=np.float32,
    )
