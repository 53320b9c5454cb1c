"""What a source string names (folder, archive, GitHub, git, website, llms.txt, registry)."""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from twinmcp.ingest.errors import HostileInput, InvalidSource
from twinmcp.ingest.registries import (
    github_repository_id,
    is_registry_source,
    parse_registry_source,
    registry_library_id,
)

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
_LIBRARY_ID = re.compile(r"^/[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)+$")
_GITHUB_HOSTS = {"github.com", "www.github.com"}
# Kernel and device trees: their files report size 0 and never end (/proc/self/pagemap) or block.
SPECIAL_TREES = tuple(Path(p) for p in ("/proc", "/sys", "/dev", "/run"))
_PSEUDO_FILESYSTEMS = frozenset(
    {
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "debugfs",
        "tracefs",
        "securityfs",
        "pstore",
        "bpf",
        "configfs",
        "fusectl",
        "mqueue",
        "hugetlbfs",
        "binfmt_misc",
        "efivarfs",
        "selinuxfs",
        "autofs",
        "rpc_pipefs",
        "nsfs",
    }
)
LOCAL_ROOTS_SETTING = "INGEST_LOCAL_ROOTS"
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
    PYPI = "pypi"
    NPM = "npm"


REGISTRY_KINDS = frozenset({SourceKind.PYPI, SourceKind.NPM})


@dataclass(frozen=True)
class SourceSpec:
    kind: SourceKind
    location: str  # a filesystem path or a URL
    library_id: str
    ref: str = ""
    owner: str = ""
    repo: str = ""
    version: str = ""  # a registry source's pinned version or range ("" for the newest)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "site"


def check_library_id(library_id: str) -> str:
    if not _LIBRARY_ID.match(library_id):
        raise InvalidSource(
            f"library id {library_id!r} is not of the form /owner/name "
            "(letters, digits, '.', '_' and '-')"
        )
    return library_id


def parse_source(
    source: str,
    *,
    library_id: str = "",
    ref: str = "",
    local_roots: Sequence[Path] | None = None,
) -> SourceSpec:
    """Classifies `source`; raises InvalidSource with what to do when it cannot be ingested.

    With `local_roots`, a folder or archive must lie under one of them (none: local sources
    are refused); None skips that check, for callers that only need the library id.
    """
    source = source.strip()
    if not source:
        raise InvalidSource("source is empty; give a folder, archive, GitHub, git or website URL")
    if is_registry_source(source):
        return _registry(source, library_id)
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
    return _parse_local(source, library_id, local_roots)


def _parse_local(source: str, library_id: str, local_roots: Sequence[Path] | None) -> SourceSpec:
    # Messages name no path: job errors are stored and shown, and an answer that differs for
    # a path outside the roots would tell a caller which server files exist.
    path = Path(source).expanduser().resolve()
    if local_roots is not None:
        check_local_path(path, local_roots)
    if not path.exists():
        raise InvalidSource("the local source does not exist; give an existing folder or archive")
    is_archive = path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)
    if not path.is_dir() and not is_archive:
        raise InvalidSource(
            "the local source is neither a folder nor a .tar.gz, .tgz or .zip archive"
        )
    if not library_id:
        raise InvalidSource(
            "library_id is required for local folders and archives, e.g. /acme/widgets"
        )
    kind = SourceKind.ARCHIVE if is_archive else SourceKind.LOCAL
    return SourceSpec(kind, str(path), check_library_id(library_id))


def check_local_path(path: Path, local_roots: Sequence[Path]) -> None:
    """Refuses a resolved path outside the allowed roots or on a kernel/device filesystem."""
    if not local_roots:
        raise InvalidSource(
            "local folders and archives are turned off on this server: "
            f"{LOCAL_ROOTS_SETTING} is empty; set it to the folders ingest may read "
            f"(absolute paths separated by {os.pathsep!r}) or give a URL"
        )
    if not any(path.is_relative_to(root) for root in local_roots):
        raise InvalidSource(
            f"the local source is outside the folders ingest may read ({LOCAL_ROOTS_SETTING}); "
            "move it under one of them or ask the operator to add its folder"
        )
    if is_special_filesystem(path):
        raise HostileInput(
            "the local source is on a kernel or device filesystem (/proc, /sys, /dev, /run); "
            "refused: only ordinary folders and archives can be ingested"
        )


def is_special_filesystem(path: Path) -> bool:
    """True for paths in /proc, /sys, /dev, /run or on any kernel pseudo-filesystem."""
    if any(path.is_relative_to(tree) for tree in SPECIAL_TREES):
        return True
    return mount_type(path) in _PSEUDO_FILESYSTEMS


def mount_type(path: Path) -> str:
    """The filesystem type of the mount holding `path` ("" when /proc/self/mountinfo is absent)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    best, kind = -1, ""
    for line in lines:
        # "id parent dev root MOUNT-POINT options [optional...] - FS-TYPE source options"
        fields = line.split()
        separator = fields.index("-") if "-" in fields else -1
        if separator < 5 or separator + 1 >= len(fields):
            continue
        mount_point = Path(_unescape_mount(fields[4]))
        depth = len(mount_point.parts)
        # The deepest mount holding the path; of mounts stacked on one point, the last listed.
        if path.is_relative_to(mount_point) and depth >= best:
            best, kind = depth, fields[separator + 1]
    return kind


def _unescape_mount(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes (\040).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def public_source(spec: SourceSpec) -> str:
    """What readers see as a library's source: never a server path for folders and archives."""
    if spec.kind in {SourceKind.LOCAL, SourceKind.ARCHIVE}:
        return f"local:{Path(spec.location).name}"
    return spec.location


def _parse_http(source: str, host: str, path: str, library_id: str, ref: str) -> SourceSpec:
    if host in _GITHUB_HOSTS:
        segments = [s for s in path.split("/") if s]
        if len(segments) < 2:
            raise InvalidSource(f"{source!r} is not a repository URL; use github.com/owner/repo")
        owner, repo = segments[0], segments[1].removesuffix(".git")
        if len(segments) >= 4 and segments[2] in {"tree", "releases"}:
            tail = segments[4:] if segments[2] == "releases" else segments[3:]
            ref = ref or "/".join(tail)
        derived = github_repository_id(owner, repo)
        if not derived:
            raise InvalidSource(
                f"{source!r} does not name a GitHub repository; use https://github.com/owner/repo"
            )
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


def _registry(source: str, library_id: str) -> SourceSpec:
    """A package registry source; the library id is settled from its metadata at submission."""
    package = parse_registry_source(source)
    kind = SourceKind(package.registry.value)
    derived = registry_library_id(package.registry, package.name)
    return SourceSpec(
        kind,
        package.canonical,
        check_library_id(library_id or derived),
        version=package.version,
        repo=package.name,
    )


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
