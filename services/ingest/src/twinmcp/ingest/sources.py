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
_GITHUB_NAME = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
# What marks a source as meant for git; all of them but https are refused with what to use.
_GIT_SCHEMES = {"git", "ssh", "git+ssh", "ssh+git", "file"}
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$|^[0-9A-Fa-f:.]{2,45}$")
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f]")
_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_BAD_REF_CHARACTERS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


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
    if source.startswith("-"):
        raise InvalidSource(
            f"source {source!r} starts with '-'; give a folder, archive, GitHub, git "
            "(https://host/group/project.git) or website URL"
        )
    if scheme in _GIT_SCHEMES or source.endswith(".git") or _SCP_LIKE.match(source):
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
        if not (_GITHUB_NAME.match(owner) and _GITHUB_NAME.match(repo)):
            raise InvalidSource(
                f"{source!r} does not name a GitHub repository; use https://github.com/owner/repo"
            )
        derived = f"/{owner}/{repo}"
        return SourceSpec(
            SourceKind.GITHUB,
            f"https://github.com/{owner}/{repo}",
            check_library_id(library_id or derived),
            ref=check_git_ref(ref),
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


def check_git_url(url: str) -> str:
    """`url` when it is an https repository URL git may be handed; raises InvalidSource if not.

    Only https is fetched: git://, ssh:// and scp-style remotes cannot be checked and pinned to
    a public address (ssh would also offer the service's own keys), file:// reads the server's
    disk, and anything starting with '-' would reach git as an option.
    """
    use = "give the repository's https URL, e.g. https://gitlab.com/group/project.git"
    if url.startswith("-"):
        raise InvalidSource(f"git source {url!r} starts with '-'; {use}")
    if _UNSAFE_CHARACTERS.search(url):
        raise InvalidSource(f"git source {url!r} contains spaces or control characters; {use}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if _SCP_LIKE.match(url) and scheme not in {"http", "https"}:
        raise InvalidSource(
            f"git source {url!r} is an ssh (scp-style) address; only https is fetched: {use}"
        )
    if scheme != "https":
        kind = f"a {scheme}:// URL" if scheme else "not a URL"
        raise InvalidSource(f"git source {url!r} is {kind}; only https is fetched: {use}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise InvalidSource(f"git source {url!r} has an invalid port; {use}") from None
    host = parts.hostname or ""
    if not _HOST.match(host):
        raise InvalidSource(f"git source {url!r} has no valid host name; {use}")
    if parts.username is not None or parts.password is not None:
        raise InvalidSource(
            f"git source {url!r} carries credentials; sources are shown to readers of the job, "
            "so only public repositories without user:password@ can be ingested"
        )
    if parts.query or parts.fragment or not parts.path.strip("/"):
        raise InvalidSource(f"git source {url!r} is not a repository URL; {use}")
    return url


def check_git_ref(ref: str) -> str:
    """`ref` when it is a valid branch, tag or commit name (git check-ref-format rules)."""
    if not ref or _SHA.match(ref):
        return ref
    components = ref.split("/")
    if (
        len(ref) > 255
        or ref.startswith(("-", "/"))
        or ref.endswith(("/", ".", ".lock"))
        or ref == "@"
        or ".." in ref
        or "@{" in ref
        or _BAD_REF_CHARACTERS.search(ref)
        or any(not part or part.startswith(".") or part.endswith(".lock") for part in components)
    ):
        raise InvalidSource(
            f"ref {ref!r} is not a valid git branch, tag or commit name (no leading '-', "
            "spaces, '..', '~^:?*[\\' or control characters); give a name like v1.2.0 or main"
        )
    return ref


def _git(source: str, library_id: str, ref: str) -> SourceSpec:
    url = check_git_url(source)
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) < 2 and not library_id:
        raise InvalidSource(f"cannot derive a library id from {source!r}; pass library_id")
    owner, repo = (
        (segments[-2], segments[-1].removesuffix(".git")) if len(segments) >= 2 else ("", "")
    )
    derived = f"/{slug(owner)}/{slug(repo)}" if owner else ""
    return SourceSpec(
        SourceKind.GIT,
        url,
        check_library_id(library_id or derived),
        ref=check_git_ref(ref),
        owner=owner,
        repo=repo,
    )
