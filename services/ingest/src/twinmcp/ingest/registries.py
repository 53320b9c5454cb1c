"""Package registry sources (`pypi:name==1.2`, `npm:@scope/name@1.2`): names, versions, ids."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from twinmcp.ingest.errors import InvalidSource


class Registry(enum.StrEnum):
    PYPI = "pypi"
    NPM = "npm"


# PEP 508 names; npm names as the registry accepts them (old packages may hold capitals).
_PYPI_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$")
_NPM_NAME = re.compile(
    r"^(@[A-Za-z0-9][A-Za-z0-9._~-]{0,100}/)?[A-Za-z0-9_][A-Za-z0-9._~-]{0,213}$"
)
_VERSION_TEXT = re.compile(r"^[A-Za-z0-9.+_!*~^<>=, -]{1,128}$")
_SEMVER = re.compile(
    r"^v?(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_GITHUB_NAME = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
_PEP440_OPERATORS = ("==", "~=", ">=", "<=", "!=", ">", "<", "===")


@dataclass(frozen=True)
class RegistrySource:
    registry: Registry
    name: str  # as given (PyPI: normalised when compared; npm: exact)
    version: str = ""  # "" for the newest release

    @property
    def canonical(self) -> str:
        """The source string stored with the job: the package without a version."""
        return f"{self.registry.value}:{self.name}"


@dataclass(frozen=True)
class ReleaseInfo:
    """One release as the registry lists it."""

    version: str
    is_yanked: bool = False  # PyPI yanked, npm deprecated
    uploaded: str = ""


def is_registry_source(source: str) -> bool:
    return source.strip().lower().startswith(("pypi:", "npm:"))


def parse_registry_source(source: str, version: str = "") -> RegistrySource:
    """`pypi:<name>[==<version>]` or `npm:<name>[@<version>]`; InvalidSource says the form."""
    prefix, _, rest = source.strip().partition(":")
    registry = Registry(prefix.lower())
    rest = rest.strip()
    if registry is Registry.PYPI:
        name, pinned = _split_pypi(rest)
        if not _PYPI_NAME.match(name):
            raise InvalidSource(
                f"{name!r} is not a PyPI project name; write pypi:<name> or pypi:<name>==<version>"
            )
    else:
        at = rest.find("@", 1)
        name, pinned = (rest[:at], rest[at + 1 :]) if at > 0 else (rest, "")
        if not _NPM_NAME.match(name):
            raise InvalidSource(
                f"{name!r} is not an npm package name; write npm:<name>, npm:<name>@<version> "
                "or npm:@scope/name@<version>"
            )
    pinned, version = _exact(pinned.strip()), _exact(version.strip())
    if pinned and version and pinned != version:
        raise InvalidSource(
            f"the source names version {pinned!r} but the version option says {version!r}; "
            "give one of them"
        )
    chosen = pinned or version
    if chosen and not _VERSION_TEXT.match(chosen):
        raise InvalidSource(f"version {chosen!r} is not a version or version range")
    return RegistrySource(registry, name, chosen)


def _exact(version: str) -> str:
    """`==1.2` is the version 1.2; other specifiers stay as they are."""
    if version.startswith("==") and not version.startswith("===") and "," not in version:
        return version[2:].strip()
    return version


def _split_pypi(rest: str) -> tuple[str, str]:
    for index, char in enumerate(rest):
        if char in "=~<>!@ ":
            spec = rest[index:].strip().removeprefix("@").strip()
            return rest[:index].strip(), spec
    return rest, ""


def normalise_pypi(name: str) -> str:
    """PEP 503: the form registries and lockfiles compare names in."""
    return re.sub(r"[-_.]+", "-", name).lower()


def registry_library_id(registry: Registry, name: str) -> str:
    """`/pypi/<name>` or `/npm/<name>` (`/npm/<scope>/<name>` for scoped packages)."""
    if registry is Registry.PYPI:
        return f"/pypi/{normalise_pypi(name)}"
    scope, _, bare = name.lower().removeprefix("@").rpartition("/")
    return f"/npm/{scope}/{bare}" if scope else f"/npm/{bare}"


def github_library_id(url: str) -> str:
    """`/owner/repo` for a GitHub repository URL in any spelling npm and PyPI use; else ""."""
    text = url.strip()
    if text.startswith("github:"):
        text = "https://github.com/" + text.removeprefix("github:")
    text = re.sub(r"^git\+", "", text)
    if text.startswith("git@github.com:"):
        text = "https://github.com/" + text.removeprefix("git@github.com:")
    parts = urlsplit(text)
    if (parts.hostname or "").lower() not in {"github.com", "www.github.com"}:
        return ""
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        return ""
    # A link into a subfolder (tree/main/libs/x) is a package of a monorepo, not the repository.
    if len(segments) > 2 and segments[2] not in {"issues", "releases", "tags"}:
        return ""
    return github_repository_id(segments[0], segments[1].removesuffix(".git"))


def github_repository_id(owner: str, repo: str) -> str:
    """`/owner/repo`, lower-cased, for a GitHub repository; "" when either is not a GitHub name.

    GitHub names ignore case and library ids are compared exactly: "Kludex/starlette" in PyPI's
    metadata and github.com/kludex/starlette must land in one library.
    """
    if not (_GITHUB_NAME.match(owner) and _GITHUB_NAME.match(repo)):
        return ""
    return f"/{owner}/{repo}".lower()


def pypi_repository(project_urls: Mapping[str, str], home_page: str) -> str:
    """The GitHub library id named by a PyPI project's URLs (Source first), else ""."""
    ranked: list[str] = []
    for preferred in ("source", "source code", "repository", "code", "github", "homepage"):
        ranked.extend(
            url for label, url in project_urls.items() if label.strip().lower() == preferred
        )
    ranked.append(home_page)
    for url in ranked:
        if url and (library_id := github_library_id(url)):
            return library_id
    return ""


def npm_repository(repository: object) -> str:
    """The GitHub library id of an npm `repository` field, "" for monorepo packages."""
    if isinstance(repository, Mapping):
        if repository.get("directory"):
            # One package of a monorepo: the repository holds other packages' docs too.
            return ""
        repository = repository.get("url", "")
    if not isinstance(repository, str):
        return ""
    text = repository.strip()
    if re.match(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$", text):
        text = "github:" + text  # the owner/repo shorthand means GitHub
    return github_library_id(text)


def is_prerelease(registry: Registry, version: str) -> bool:
    if registry is Registry.PYPI:
        try:
            parsed = Version(version)
        except InvalidVersion:
            return True
        return parsed.is_prerelease or parsed.is_devrelease
    match = _SEMVER.match(version)
    return match is None or match.group("pre") is not None


def version_key(registry: Registry, version: str) -> tuple[object, ...]:
    """Orders versions as the registry's clients do (PEP 440, semver); unparsable ones first."""
    if registry is Registry.PYPI:
        try:
            return (1, Version(version))
        except InvalidVersion:
            return (0, version)
    match = _SEMVER.match(version)
    if match is None:
        return (0, (), version)
    pre = match.group("pre")
    numbers = (int(match.group("major")), int(match.group("minor")), int(match.group("patch")))
    pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in (pre or "").split("."))
    return (1, numbers, 0 if pre else 1, pre_key if pre else ())


def sorted_releases(registry: Registry, releases: Iterable[ReleaseInfo]) -> list[ReleaseInfo]:
    """Newest first."""
    return sorted(releases, key=lambda r: version_key(registry, r.version), reverse=True)


def choose_release(
    registry: Registry,
    name: str,
    releases: list[ReleaseInfo],
    wanted: str,
    dist_tags: Mapping[str, str] | None = None,
) -> ReleaseInfo:
    """The release `wanted` names; with none, the newest that is not yanked or a pre-release."""
    ordered = sorted_releases(registry, releases)
    by_version = {r.version: r for r in ordered}
    tags = dict(dist_tags or {})
    if not ordered:
        raise InvalidSource(f"{registry.value}:{name} has no releases")
    if not wanted or wanted == "latest":
        latest = by_version.get(tags.get("latest", ""))
        if latest and not latest.is_yanked and not is_prerelease(registry, latest.version):
            return latest
        for release in ordered:
            if not release.is_yanked and not is_prerelease(registry, release.version):
                return release
        for release in ordered:
            if not release.is_yanked:
                return release
        raise InvalidSource(
            f"every release of {registry.value}:{name} is yanked or deprecated; "
            "name a version to ingest one anyway"
        )
    exact = wanted.removeprefix("==").strip()
    if registry is Registry.NPM:
        exact = tags.get(exact, exact).removeprefix("v")
    if exact in by_version:
        return by_version[exact]
    if registry is Registry.PYPI:
        match = _pypi_match(exact, wanted, ordered)
    else:
        match = _npm_match(wanted, ordered)
    if match is not None:
        return match
    newest = ", ".join(r.version for r in ordered[:5])
    shown = exact if wanted.startswith("==") else wanted
    raise InvalidSource(
        f"{registry.value}:{name} has no release {shown!r}; the newest are {newest}"
    )


def _pypi_match(exact: str, wanted: str, ordered: list[ReleaseInfo]) -> ReleaseInfo | None:
    try:
        equal = Version(exact)
    except InvalidVersion:
        equal = None
    if equal is not None:  # 3.1 names 3.1.0
        for release in ordered:
            try:
                if Version(release.version) == equal:
                    return release
            except InvalidVersion:
                continue
    if not wanted.startswith(_PEP440_OPERATORS):
        return None
    try:
        specifier = SpecifierSet(wanted)
    except InvalidSpecifier:
        raise InvalidSource(f"{wanted!r} is not a PEP 440 version specifier") from None
    candidates = [r for r in ordered if not r.is_yanked]
    chosen = list(specifier.filter([r.version for r in candidates]))
    return next((r for r in candidates if chosen and r.version == chosen[0]), None)


def _npm_match(wanted: str, ordered: list[ReleaseInfo]) -> ReleaseInfo | None:
    """Semver ranges npm users write most: 1.2.x, 1.x, ^1.2.3, ~1.2.3, >=1.2.3."""
    text = wanted.strip()
    low: tuple[int, ...] | None = None
    high: tuple[int, ...] | None = None
    numbers = [int(n) for n in re.findall(r"\d+", text)][:3]
    if not numbers:
        return None
    padded = (*numbers, 0, 0)[:3]
    if text.startswith("^"):
        low = padded
        index = next((i for i, n in enumerate(padded) if n != 0), 2)
        high = tuple([*padded[:index], padded[index] + 1, *([0] * (2 - index))])
    elif text.startswith("~"):
        low = padded
        high = (padded[0], padded[1] + 1, 0) if len(numbers) > 1 else (padded[0] + 1, 0, 0)
    elif text.startswith(">="):
        low = padded
    elif re.match(r"^\d+(\.\d+)?(\.[xX*])?$|^\d+\.[xX*](\.[xX*])?$", text):
        low = padded
        high = (numbers[0], numbers[1] + 1, 0) if len(numbers) > 1 else (numbers[0] + 1, 0, 0)
    else:
        return None
    for release in ordered:
        match = _SEMVER.match(release.version)
        if release.is_yanked or match is None or match.group("pre"):
            continue
        value = (int(match.group("major")), int(match.group("minor")), int(match.group("patch")))
        if value >= low and (high is None or value < high):
            return release
    return None
