"""Projects: the packages a named project locks, and which version of a library it locks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from twinmcp.search.errors import InvalidInputError
from twinmcp.search.library import LibraryMeta

PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
REGISTRIES = ("pypi", "npm")
MAX_PROJECT_PACKAGES = 5_000
MAX_PACKAGE_NAME_CHARS = 214  # npm's limit, above PyPI's
MAX_LOCKED_VERSION_CHARS = 128


@dataclass(frozen=True)
class LockedPackage:
    registry: str
    name: str
    version: str


def check_project_name(name: str) -> str:
    cleaned = name.strip()
    if not PROJECT_NAME.match(cleaned):
        raise InvalidInputError(
            f"project name {name[:120]!r} is not valid; use up to 100 letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )
    return cleaned


def check_packages(packages: Sequence[LockedPackage]) -> list[LockedPackage]:
    """The packages as stored; refuses an unknown registry, an empty or over-long name."""
    if len(packages) > MAX_PROJECT_PACKAGES:
        raise InvalidInputError(
            f"the project locks {len(packages)} packages; at most {MAX_PROJECT_PACKAGES} are "
            "kept. Register its direct dependencies only"
        )
    kept: dict[tuple[str, str], LockedPackage] = {}
    for package in packages:
        registry = package.registry.strip().lower()
        name, version = package.name.strip(), package.version.strip()
        if registry not in REGISTRIES:
            raise InvalidInputError(
                f"package {name[:60]!r} names registry {registry[:20]!r}; use one of "
                f"{', '.join(REGISTRIES)}"
            )
        if not name or len(name) > MAX_PACKAGE_NAME_CHARS:
            raise InvalidInputError(
                f"a package name must hold 1 to {MAX_PACKAGE_NAME_CHARS} characters"
            )
        if len(version) > MAX_LOCKED_VERSION_CHARS:
            raise InvalidInputError(
                f"the version of {name[:60]} is longer than {MAX_LOCKED_VERSION_CHARS} characters"
            )
        kept.setdefault(package_key(registry, name), LockedPackage(registry, name, version))
    return list(kept.values())


def package_key(registry: str, name: str) -> tuple[str, str]:
    """How registries compare names: PEP 503 for PyPI, lower case for npm."""
    if registry == "pypi":
        return registry, re.sub(r"[-_.]+", "-", name).lower()
    return registry, name.lower()


def _library_keys(meta: LibraryMeta) -> tuple[set[tuple[str, str]], set[str]]:
    """The (registry, name) keys a library documents, and names declared without a registry."""
    keys: set[tuple[str, str]] = set()
    bare: set[str] = set()
    for package in meta.documented_packages:
        if package.registry in REGISTRIES:
            keys.add(package_key(package.registry, package.name))
        elif not package.registry:
            bare.add(package.name.lower())
    registry, _, name = meta.registry_source.partition(":")
    if registry in REGISTRIES and name:
        keys.add(package_key(registry, name))
    return keys, bare


class PackageOwners:
    """Which libraries document each package, so that a project's libraries are found by one
    lookup per locked package (asking `locked_version` of every library took 171 ms a request
    at 1,000 libraries and a 200-package project)."""

    def __init__(self, metas: Iterable[LibraryMeta]) -> None:
        self._keys: dict[tuple[str, str], list[str]] = {}
        self._bare: dict[str, list[str]] = {}
        self._order: dict[str, int] = {}
        for meta in metas:
            self._order.setdefault(meta.library_id, len(self._order))
            keys, bare = _library_keys(meta)
            for key in keys:
                self._keys.setdefault(key, []).append(meta.library_id)
            for name in bare:
                self._bare.setdefault(name, []).append(meta.library_id)

    def first(self, package: LockedPackage) -> str:
        """The first library, in the order given, for which `locked_version` finds a version
        in `package`; "" for none."""
        found = self.owners([package])
        return min(found, key=self._order.__getitem__) if found else ""

    def owners(self, packages: Iterable[LockedPackage]) -> set[str]:
        """The libraries for which `locked_version` finds a version among `packages`."""
        found: set[str] = set()
        for package in packages:
            if package.version:
                found.update(self._keys.get(package_key(package.registry, package.name), ()))
                found.update(self._bare.get(package.name.lower(), ()))
        return found


def locked_version(meta: LibraryMeta, packages: Iterable[LockedPackage]) -> str:
    """The version the project locks of one of the library's packages; "" for none."""
    keys, bare = _library_keys(meta)
    for package in packages:
        if not package.version:
            continue
        key = package_key(package.registry, package.name)
        if key in keys or package.name.lower() in bare:
            return package.version
    return ""


def project_label(project: str, project_format: str, *, has_locked: bool = False) -> str:
    """How answers name the request's project ("" for none): "project 'shop'", the file its
    locked packages were read from, "the uv.lock passed as 'project'", or, for packages sent
    without naming their file (a gRPC caller's `locked_packages`), "the request's project"."""
    if project:
        return f"project '{project}'"
    if project_format:
        return f"the {project_format} passed as 'project'"
    return "the request's project" if has_locked else ""


def project_note(label: str, served: str, locked: str) -> str:
    """The line saying which version of a library the project `label` names locks, for an
    answer at version `served` (`locked`: "" when it locks none of its packages): QueryDocs'
    second line, and SearchDocs' per answering library."""
    label = label[0].upper() + label[1:]
    if not locked:
        return (
            f"{label} locks none of this library's packages; this answer is for version "
            f"{served}, not a locked one."
        )
    if locked == served:
        return f"{label} locks version {locked} of this library; this answer is for it."
    return (
        f"{label} locks version {locked} of this library; this answer is for {served}, the "
        "version asked for."
    )
