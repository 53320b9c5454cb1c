"""Library identity on the search side: what a build may declare, and which catalog entries
a documented library claims (so the resolver never offers an empty twin of it)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from twinmcp.search.library import (
    CatalogEntry,
    LibraryInfo,
    LibraryMeta,
    PackageRef,
    catalog_library_id,
)
from twinmcp.search.resolution import (
    GENERIC_REPO_NAMES,
    Candidate,
    Resolver,
    compact,
    repo_name,
)

MAX_PACKAGES = 20
MAX_ALIASES = 20
MAX_NAME_CHARS = 214  # npm's limit for a package name; longer is not a name
_REGISTRY = re.compile(r"^[a-z][a-z0-9.-]{0,29}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def _name(text: str) -> str:
    return " ".join(_CONTROL.sub("", text).split())


def clean_packages(packages: Iterable[PackageRef]) -> tuple[PackageRef, ...]:
    """Declared packages fit to store: registry lower-cased and well formed, names one token,
    duplicates and the excess (over MAX_PACKAGES) dropped."""
    kept: list[PackageRef] = []
    for package in packages:
        registry = package.registry.strip().lower()
        name = _name(package.name)
        if registry and not _REGISTRY.match(registry):
            continue
        if not name or len(name) > MAX_NAME_CHARS or " " in name:
            continue
        ref = PackageRef(registry, name)
        if ref not in kept:
            kept.append(ref)
    return tuple(kept[:MAX_PACKAGES])


def clean_aliases(aliases: Iterable[str]) -> tuple[str, ...]:
    """Other names fit to show and match: printable, short, distinct."""
    kept: list[str] = []
    keys: set[str] = set()
    for alias in aliases:
        name = _name(alias)
        key = compact(name)
        if key and len(name) <= 100 and key not in keys:
            keys.add(key)
            kept.append(name)
    return tuple(kept[:MAX_ALIASES])


def is_generic_repo(library_id: str) -> bool:
    return repo_name(library_id).lower() in GENERIC_REPO_NAMES


def _claim_keys(meta: LibraryMeta) -> list[str]:
    """Names a library without declared packages is known by, strongest first: its title,
    its aliases, its repository (unless that is "docs" or "website"), each also without a
    ".js" / "js" ending ("Vue.js" -> "vue")."""
    names = [meta.title, *meta.aliases]
    if not is_generic_repo(meta.library_id):
        names.append(repo_name(meta.library_id))
    keys: list[str] = []
    for name in names:
        lowered = name.strip().lower()
        for key in (lowered, re.sub(r"\.?js$", "", lowered)):
            if key and key not in keys:
                keys.append(key)
    return keys


def build_resolver(libraries: Sequence[LibraryInfo], entries: Sequence[CatalogEntry]) -> Resolver:
    """Documented libraries absorb the catalog entries of the packages they document.

    A package declared with its registry claims that registry's entry only; one without
    ("flask") claims the entry of that name in any registry. A documented library that
    names no package (a folder or a website ingested without a manifest or examples) absorbs
    the most used unclaimed entry named like its title, an alias or its repository:
    /fastapi/fastapi is the `fastapi` package, with its downloads and its family. Among
    documented libraries of one name (an original and its fork), the most starred, then the
    largest, claims it. So an undocumented catalog entry of a documented project is never
    offered beside (or above) its documentation.
    """
    by_name: dict[str, list[CatalogEntry]] = {}
    for entry in entries:
        by_name.setdefault(entry.name.lower(), []).append(entry)
    documented = [library for library in libraries if library.versions]
    claimed: dict[str, list[CatalogEntry]] = {}
    absorbed: set[tuple[str, str]] = set()
    for library in documented:
        meta = library.meta
        matched = [
            entry
            for package in meta.documented_packages
            for entry in by_name.get(package.name.lower(), [])
            if not package.registry or entry.registry == package.registry
        ]
        claimed[meta.library_id] = matched
        absorbed.update((e.registry, e.name) for e in matched)
    unnamed = [library for library in documented if not library.meta.documented_packages]
    unnamed.sort(
        key=lambda library: (
            -library.meta.stars,
            -(library.default.snippet_count if library.default else 0),
            library.meta.library_id,
        )
    )
    for library in unnamed:
        for key in _claim_keys(library.meta):
            free = [e for e in by_name.get(key, []) if (e.registry, e.name) not in absorbed]
            if free:
                entry = min(free, key=lambda e: e.popularity_rank or 10**9)
                claimed[library.meta.library_id] = [entry]
                absorbed.add((entry.registry, entry.name))
                break
    candidates: list[Candidate] = []
    for library in documented:
        meta = library.meta
        matched = claimed[meta.library_id]
        ranks = [e.popularity_rank for e in matched if e.popularity_rank > 0]
        default = library.default
        declared = meta.documented_packages
        names = [p.name for p in declared] or [e.name for e in matched]
        for alias in meta.aliases:
            if compact(alias) not in {compact(n) for n in names}:
                names.append(alias)
        candidates.append(
            Candidate(
                library_id=meta.library_id,
                title=meta.title or repo_name(meta.library_id),
                description=meta.description or (matched[0].summary if matched else ""),
                is_documented=True,
                registry=matched[0].registry
                if matched
                else next((p.registry for p in declared if p.registry), ""),
                names=names,
                popularity_rank=min(ranks) if ranks else 0,
                stars=meta.stars,
                trust_score=meta.trust_score,
                snippet_count=default.snippet_count if default else 0,
                about=meta.about,
                doc_terms=library.doc_terms,
            )
        )
    for entry in entries:
        if (entry.registry, entry.name) in absorbed:
            continue
        candidates.append(
            Candidate(
                library_id=catalog_library_id(entry.registry, entry.name),
                title=entry.name,
                description=entry.summary,
                is_documented=False,
                registry=entry.registry,
                names=[entry.name],
                popularity_rank=entry.popularity_rank,
            )
        )
    return Resolver(candidates)
