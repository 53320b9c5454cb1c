"""What a source string names (folder, archive, GitHub, git, website, llms.txt); library ids."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from twinmcp.ingest.errors import InvalidSource

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
_LIBRARY_ID = re.compile(r"^/[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)+$")
_GITHUB_HOSTS = {"github.com", "www.github.com"}


class SourceKind(enum.StrEnum):
    LOCAL = "local"
    ARCHIVE = "archive"
    GITHUB = "github"
    GIT = "git"
    WEBSITE = "website"
    LLMSTXT = "llmstxt"


@dataclass(frozen=True)
class SourceSpec:
    kind: SourceKind
    location: str  # a filesystem path or a URL
    library_id: str
    ref: str = ""
    owner: str = ""
    repo: str = ""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "site"


def check_library_id(library_id: str) -> str:
    if not _LIBRARY_ID.match(library_id):
        raise InvalidSource(
            f"library id {library_id!r} is not of the form /owner/name "
            "(letters, digits, '.', '_' and '-')"
        )
    return library_id


def parse_source(source: str, *, library_id: str = "", ref: str = "") -> SourceSpec:
    """Classifies `source`; raises InvalidSource with what to do when it cannot be ingested."""
    source = source.strip()
    if not source:
        raise InvalidSource("source is empty; give a folder, archive, GitHub, git or website URL")
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme in {"http", "https"}:
        return _parse_http(source, (parts.hostname or "").lower(), parts.path, library_id, ref)
    if (
        scheme in {"git", "ssh", "file"}
        or source.endswith(".git")
        or re.match(r"^[\w.-]+@[\w.-]+:", source)
    ):
        return _git(source, library_id, ref)
    if scheme and len(scheme) > 1:
        raise InvalidSource(f"unsupported URL scheme {scheme!r}; use https, git or a local path")
    return _parse_local(source, library_id)


def _parse_local(source: str, library_id: str) -> SourceSpec:
    path = Path(source).expanduser()
    if not path.exists():
        raise InvalidSource(f"{source!r} does not exist; give an existing folder or archive")
    is_archive = path.is_file() and source.lower().endswith(ARCHIVE_SUFFIXES)
    if not path.is_dir() and not is_archive:
        raise InvalidSource(f"{source!r} is neither a folder nor a .tar.gz, .tgz or .zip archive")
    if not library_id:
        raise InvalidSource(
            "library_id is required for local folders and archives, e.g. /acme/widgets"
        )
    kind = SourceKind.ARCHIVE if is_archive else SourceKind.LOCAL
    return SourceSpec(kind, str(path.resolve()), check_library_id(library_id))


def _parse_http(source: str, host: str, path: str, library_id: str, ref: str) -> SourceSpec:
    if host in _GITHUB_HOSTS:
        segments = [s for s in path.split("/") if s]
        if len(segments) < 2:
            raise InvalidSource(f"{source!r} is not a repository URL; use github.com/owner/repo")
        owner, repo = segments[0], segments[1].removesuffix(".git")
        if len(segments) >= 4 and segments[2] in {"tree", "releases"}:
            tail = segments[4:] if segments[2] == "releases" else segments[3:]
            ref = ref or "/".join(tail)
        derived = f"/{owner}/{repo}"
        return SourceSpec(
            SourceKind.GITHUB,
            f"https://github.com/{owner}/{repo}",
            check_library_id(library_id or derived),
            ref=ref,
            owner=owner,
            repo=repo,
        )
    if path.endswith(".git"):
        return _git(source, library_id, ref)
    name = path.rsplit("/", 1)[-1].lower()
    if name in {"llms.txt", "llms-full.txt"}:
        derived = f"/llmstxt/{slug(host)}"
        return SourceSpec(SourceKind.LLMSTXT, source, check_library_id(library_id or derived))
    derived = f"/websites/{slug(host + path)}"
    return SourceSpec(SourceKind.WEBSITE, source, check_library_id(library_id or derived))


def _git(source: str, library_id: str, ref: str) -> SourceSpec:
    tail = re.split(r"[/:]", source.rstrip("/"))
    segments = [s for s in tail if s]
    if len(segments) < 2 and not library_id:
        raise InvalidSource(f"cannot derive a library id from {source!r}; pass library_id")
    owner, repo = (
        (segments[-2], segments[-1].removesuffix(".git")) if len(segments) >= 2 else ("", "")
    )
    derived = f"/{slug(owner)}/{slug(repo)}" if owner else ""
    return SourceSpec(
        SourceKind.GIT,
        source,
        check_library_id(library_id or derived),
        ref=ref,
        owner=owner,
        repo=repo,
    )
