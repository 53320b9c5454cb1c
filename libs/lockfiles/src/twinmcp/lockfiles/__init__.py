"""A project's dependencies and their locked versions, read from its manifests and lockfiles."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PYPI = "pypi"
NPM = "npm"
MAX_FILE_BYTES = 32 * 1024 * 1024

# What `sync` reads, in the order they are looked at.
PYTHON_MANIFESTS = ("pyproject.toml", "Pipfile")
PYTHON_LOCKS = ("uv.lock", "poetry.lock", "Pipfile.lock")
NPM_LOCKS = ("package-lock.json", "pnpm-lock.yaml", "yarn.lock")
_PEP508_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


class ManifestError(ValueError):
    """A manifest or lockfile that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Dependency:
    registry: str  # "pypi" or "npm"
    name: str
    version: str  # the locked version; a range or "" when nothing pins it
    is_locked: bool
    found_in: str  # the file that named it

    @property
    def source(self) -> str:
        """The ingest source: pypi:<name>==<version>, npm:<name>@<version>."""
        if not self.version:
            return f"{self.registry}:{self.name}"
        if self.registry == PYPI:
            pinned = self.version if self.version[0] in "=<>!~" else f"=={self.version}"
            return f"{PYPI}:{self.name}{pinned}"
        return f"{NPM}:{self.name}@{self.version}"


def normalise(registry: str, name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower() if registry == PYPI else name


@dataclass
class _Ecosystem:
    """Direct names (with their declared ranges) and locked versions of one registry."""

    registry: str
    direct: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # key: name, range, file
    locked: dict[str, tuple[str, str]] = field(default_factory=dict)  # key: version, file
    # (name, declared range) -> version, for lockfiles that lock a range (yarn).
    by_range: dict[tuple[str, str], str] = field(default_factory=dict)
    has_manifest: bool = False

    def declare(self, name: str, spec: str, origin: str) -> None:
        key = normalise(self.registry, name)
        if key not in self.direct:
            self.direct[key] = (name, spec.strip(), origin)

    def lock(self, name: str, version: str, origin: str) -> None:
        key = normalise(self.registry, name)
        if version and key not in self.locked:
            self.locked[key] = (version, origin)


def read_project(root: Path, *, transitive: bool = False) -> list[Dependency]:
    """Every direct dependency of the project at `root` (all locked ones with `transitive`)."""
    if not root.is_dir():
        raise ManifestError(f"{root} is not a folder; give the project's folder")
    files = {path.relative_to(root).as_posix(): _read(path) for path in _requirements_files(root)}
    for name in _READERS:
        path = root / name
        if path.is_file():
            files[name] = _read(path)
    return read_files(files, transitive=transitive)


def read_files(files: Mapping[str, str], *, transitive: bool = False) -> list[Dependency]:
    """The same from the files' contents, keyed by their path in the project
    (`requirements/dev.txt`, `package-lock.json`): for a project sent over the network."""
    python, node = _Ecosystem(PYPI), _Ecosystem(NPM)
    for origin in sorted(files):
        if is_requirements_path(origin):
            _requirements(files[origin].removeprefix("\ufeff"), python, origin)
    for name, reader in _READERS.items():
        if name in files:
            target = node if name in {"package.json", *NPM_LOCKS} else python
            reader(files[name].removeprefix("\ufeff"), target, name)
    found: list[Dependency] = []
    for ecosystem in (python, node):
        found.extend(_resolve(ecosystem, transitive=transitive))
    return found


def is_requirements_path(path: str) -> bool:
    """requirements*.txt at the project's root, or any .txt under requirements/."""
    return bool(re.fullmatch(r"requirements[^/]*\.txt|requirements/[^/]+\.txt", path))


def is_project_file(path: str) -> bool:
    """Whether `path` (relative to the project's root) is a manifest or lockfile read here."""
    return path in _READERS or is_requirements_path(path)


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ManifestError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"{path.name} is not UTF-8 text") from None


def _resolve(ecosystem: _Ecosystem, *, transitive: bool) -> list[Dependency]:
    out: list[Dependency] = []
    # A lockfile alone (no manifest naming direct dependencies) counts all it locks as direct.
    names = dict(ecosystem.direct)
    if transitive or not ecosystem.has_manifest:
        for key, (_version, origin) in ecosystem.locked.items():
            names.setdefault(key, (key, "", origin))
    for key, (name, spec, origin) in sorted(names.items()):
        version = ""
        if (name, spec) in ecosystem.by_range:
            version = ecosystem.by_range[(name, spec)]
        elif key in ecosystem.locked:
            version = ecosystem.locked[key][0]
        pinned = _exact_pin(ecosystem.registry, spec)
        if version:
            out.append(Dependency(ecosystem.registry, name, version, True, origin))
        elif pinned:
            out.append(Dependency(ecosystem.registry, name, pinned, True, origin))
        else:
            out.append(Dependency(ecosystem.registry, name, spec, False, origin))
    return out


def _exact_pin(registry: str, spec: str) -> str:
    spec = spec.strip()
    if registry == PYPI:
        match = re.fullmatch(r"===?\s*([A-Za-z0-9.+!_-]+)", spec)
        return match.group(1) if match and "*" not in spec else ""
    match = re.fullmatch(r"=?v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)", spec)
    return match.group(1) if match else ""


# --- Python ----------------------------------------------------------------------------------


def _requirements_files(root: Path) -> list[Path]:
    files = sorted(root.glob("requirements*.txt"))
    folder = root / "requirements"
    if folder.is_dir():
        files.extend(sorted(folder.glob("*.txt")))
    return [f for f in files if f.is_file()]


def _requirements(text: str, python: _Ecosystem, origin: str) -> None:
    text = text.replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http://", "https://", "file:", ".")):
            continue
        requirement = _pep508(line.split(" --", 1)[0])
        if requirement is None:
            continue
        name, spec = requirement
        python.has_manifest = True
        python.declare(name, spec, origin)
        if pin := _exact_pin(PYPI, spec):
            python.lock(name, pin, origin)


def _pep508(text: str) -> tuple[str, str] | None:
    """(name, version specifier) of a PEP 508 requirement; None for URLs and nonsense."""
    requirement = text.split(";", 1)[0].strip()
    match = _PEP508_NAME.match(requirement)
    if not match or "@" in match.group(3) or "://" in requirement:
        return None
    spec = match.group(3).strip().strip("()").replace(" ", "")
    return match.group(1), spec


def _toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{origin} is not valid TOML: {exc}") from None
    except RecursionError:
        raise _too_deep(origin) from None


def _too_deep(origin: str) -> ManifestError:
    # The JSON, TOML and YAML parsers recurse once per nesting level; a file nested past
    # Python's recursion limit is no manifest a package manager writes, only a hostile one.
    return ManifestError(
        f"{origin} nests its values too deeply to read (arrays or tables inside each other "
        "thousands of levels down); send the file as the package manager wrote it"
    )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dig(data: Mapping[str, Any], *keys: str) -> Any:
    current: Any = data
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _pyproject(text: str, python: _Ecosystem, origin: str) -> None:
    data = _toml(text, origin)
    requirements: list[str] = []
    project = _mapping(data.get("project"))
    requirements.extend(_strings(project.get("dependencies")))
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        for group in optional.values():
            requirements.extend(_strings(group))
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for group in groups.values():
            requirements.extend(_strings(group))
    own = normalise(PYPI, str(project.get("name", "")))
    for requirement in requirements:
        parsed = _pep508(requirement)
        if parsed and normalise(PYPI, parsed[0]) != own:
            python.has_manifest = True
            python.declare(parsed[0], parsed[1], origin)
    poetry = _dig(data, "tool", "poetry")
    if isinstance(poetry, dict):
        tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
        group_tables = poetry.get("group")
        if isinstance(group_tables, dict):
            tables.extend(_dig(g, "dependencies") for g in group_tables.values())
        for table in tables:
            if not isinstance(table, dict):
                continue
            for name, value in table.items():
                if name.lower() == "python":
                    continue
                python.has_manifest = True
                python.declare(name, _poetry_spec(value), origin)


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _poetry_spec(value: object) -> str:
    """Poetry's `^1.2`, `~1.2`, `1.2.3` or {version = ...} as a PEP 440 specifier."""
    if isinstance(value, dict):
        value = value.get("version", "")
    if not isinstance(value, str):
        return ""
    spec = value.strip()
    if spec in {"", "*"}:
        return ""
    if re.fullmatch(r"\d+(\.\d+)*", spec):
        return f"=={spec}"
    numbers = re.findall(r"\d+", spec)
    if spec.startswith("^") and numbers:
        first = next((i for i, n in enumerate(numbers) if n != "0"), len(numbers) - 1)
        upper = [*numbers[:first], str(int(numbers[first]) + 1)]
        return f">={spec[1:]},<{'.'.join(upper)}"
    if spec.startswith("~") and not spec.startswith("~=") and numbers:
        upper = (
            [numbers[0], str(int(numbers[1]) + 1)]
            if len(numbers) > 1
            else [str(int(numbers[0]) + 1)]
        )
        return f">={spec[1:]},<{'.'.join(upper)}"
    return spec.replace(" ", "")


def _pipfile(text: str, python: _Ecosystem, origin: str) -> None:
    data = _toml(text, origin)
    for table in (data.get("packages"), data.get("dev-packages")):
        if isinstance(table, dict):
            for name, value in table.items():
                python.has_manifest = True
                spec = value if isinstance(value, str) else _dig(value, "version") or ""
                python.declare(name, "" if spec == "*" else str(spec), origin)


def _uv_lock(text: str, python: _Ecosystem, origin: str) -> None:
    data = _toml(text, origin)
    packages = [p for p in data.get("package", []) if isinstance(p, dict)]
    for package in packages:
        source = _mapping(package.get("source"))
        if "editable" in source or "virtual" in source:
            # The project itself: its dependencies are the direct ones.
            names = [d.get("name") for d in package.get("dependencies", []) if isinstance(d, dict)]
            for group in (package.get("dev-dependencies"), package.get("optional-dependencies")):
                if isinstance(group, dict):
                    for items in group.values():
                        names.extend(d.get("name") for d in items if isinstance(d, dict))
            for name in names:
                if isinstance(name, str):
                    python.has_manifest = True
                    python.declare(name, "", origin)
            continue
        if isinstance(package.get("name"), str) and isinstance(package.get("version"), str):
            python.lock(package["name"], package["version"], origin)


def _poetry_lock(text: str, python: _Ecosystem, origin: str) -> None:
    data = _toml(text, origin)
    for package in data.get("package", []):
        if isinstance(package, dict) and isinstance(package.get("version"), str):
            python.lock(str(package.get("name", "")), package["version"], origin)


def _pipfile_lock(text: str, python: _Ecosystem, origin: str) -> None:
    data = _json(text, origin)
    for section in ("default", "develop"):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        for name, entry in table.items():
            version = entry.get("version", "") if isinstance(entry, dict) else ""
            if isinstance(version, str) and version.startswith("=="):
                python.lock(name, version[2:], origin)


# --- npm -------------------------------------------------------------------------------------


def _json(text: str, origin: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{origin} is not valid JSON: {exc}") from None
    except RecursionError:
        raise _too_deep(origin) from None
    if not isinstance(data, dict):
        raise ManifestError(f"{origin} does not hold a JSON object")
    return data


# npm specifiers naming a folder of the project, not a registry package.
_LOCAL_SPECS = ("file:", "link:", "workspace:")


def _package_json(text: str, node: _Ecosystem, origin: str) -> None:
    data = _json(text, origin)
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        for name, spec in table.items():
            if not isinstance(spec, str) or spec.startswith(_LOCAL_SPECS):
                continue
            node.has_manifest = True
            node.declare(name, spec, origin)


def _package_lock(text: str, node: _Ecosystem, origin: str) -> None:
    data = _json(text, origin)
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        # The root entry copies package.json's dependencies: the lockfile alone names the
        # direct ones (read after package.json, whose declarations come first).
        root = packages.get("")
        for section in ("dependencies", "devDependencies", "optionalDependencies"):
            table = root.get(section) if isinstance(root, dict) else None
            if isinstance(table, dict):
                for name, spec in table.items():
                    if isinstance(spec, str) and not spec.startswith(_LOCAL_SPECS):
                        node.has_manifest = True
                        node.declare(str(name), spec, origin)
        for path, entry in packages.items():
            if not path.startswith("node_modules/") or not isinstance(entry, dict):
                continue
            name = path.rsplit("node_modules/", 1)[1]
            is_top = path.count("node_modules/") == 1
            if is_top and isinstance(entry.get("version"), str) and not entry.get("link"):
                node.lock(name, entry["version"], origin)
        return
    dependencies = data.get("dependencies")  # lockfileVersion 1
    if isinstance(dependencies, dict):
        for name, entry in dependencies.items():
            if isinstance(entry, dict) and isinstance(entry.get("version"), str):
                node.lock(name, entry["version"], origin)


def _pnpm_version(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("version", "")
    text = str(value or "")
    return re.sub(r"\(.*$", "", text).split("_", 1)[0].strip()


def _pnpm_lock(text: str, node: _Ecosystem, origin: str) -> None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{origin} is not valid YAML: {exc}") from None
    except RecursionError:
        raise _too_deep(origin) from None
    if not isinstance(data, dict):
        raise ManifestError(f"{origin} does not hold a YAML mapping")
    importer = _dig(data, "importers", ".")
    tables = importer if isinstance(importer, dict) else data  # v5 keeps them at the top
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        table = tables.get(section)
        if isinstance(table, dict):
            for name, value in table.items():
                version = _pnpm_version(value)
                if re.match(r"^\d", version):
                    node.lock(str(name), version, origin)
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key in packages:
            match = re.match(r"^/?(@?[^@/]+(?:/[^@/]+)?)[@/](\d[^()_]*)", str(key))
            if match:
                node.lock(match.group(1), match.group(2), origin)


_YARN_HEADER = re.compile(r"^(\S.*):\s*$")
_YARN_VERSION = re.compile(r'^\s+version:?\s+"?([^"\s]+)"?\s*$')


def _yarn_lock(text: str, node: _Ecosystem, origin: str) -> None:
    """yarn v1 (`version "1.2.3"`) and berry (`version: 1.2.3`) entries, by declared range."""
    entries: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        header = _YARN_HEADER.match(line)
        if header and not line.startswith(" "):
            entries = [e.strip().strip('"') for e in header.group(1).split(",")]
            continue
        version = _YARN_VERSION.match(line)
        if version and entries:
            for entry in entries:
                at = entry.find("@", 1)
                if at <= 0:
                    continue
                name, spec = entry[:at], entry[at + 1 :].removeprefix("npm:")
                node.by_range[(name, spec)] = version.group(1)
                node.lock(name, version.group(1), origin)
            entries = []


# --- one file's contents, its format found from the text ------------------------------------

# The formats a file's contents are recognised in, as the file names that hold them.
CONTENT_FORMATS = (
    "package-lock.json",
    "package.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "Pipfile",
    "pyproject.toml",
    "requirements.txt",
)
# Matched against a line with its white space taken out, so no pattern backtracks over it.
_SPECIFIER = r"(?:===?|~=|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+"
_REQUIREMENT_LINE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9._,-]*\])?"
    rf"(?:\(?{_SPECIFIER}(?:,{_SPECIFIER})*\)?)?(?:;.*)?"
)
_REQUIREMENT_URL_LINE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?@.+")
# A name followed by the end of the line or punctuation, never by another word (prose).
_REQUIREMENT_START = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:$|[\[(<>=!~;@])")
_PNPM_MARKER = re.compile(r"^lockfileVersion:\s*['\"]?\d", re.MULTILINE)
_YARN_MARKER = re.compile(r"^(?:# yarn lockfile v1\s*|__metadata:\s*)$", re.MULTILINE)
_YARN_ENTRY = re.compile(r'^"?@?[^@\s"]+@[^\n]*"?:\s*\n\s+version:?\s', re.MULTILINE)


def detect_format(text: str) -> str | None:
    """The file name whose format `text` is in ("uv.lock", "requirements.txt", ...), judged
    from the contents alone; None when it reads as none of CONTENT_FORMATS."""
    stripped = text.removeprefix("\ufeff").strip()
    if not stripped:
        return None
    if stripped[0] == "{":
        return _json_format(stripped)
    if _PNPM_MARKER.search(stripped):
        return "pnpm-lock.yaml"
    if _YARN_MARKER.search(stripped) or _YARN_ENTRY.search(stripped):
        return "yarn.lock"
    try:
        data = tomllib.loads(stripped)
    except tomllib.TOMLDecodeError:
        return "requirements.txt" if _is_requirements(stripped) else None
    except RecursionError:
        raise _too_deep("the text") from None
    return _toml_format(data)


def _json_format(text: str) -> str | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    except RecursionError:
        raise _too_deep("the text") from None
    if not isinstance(data, dict):
        return None
    if "lockfileVersion" in data:
        return "package-lock.json"  # npm-shrinkwrap.json has the same shape
    if "_meta" in data and ("default" in data or "develop" in data):
        return "Pipfile.lock"
    sections = ("name", "dependencies", "devDependencies", "optionalDependencies")
    return "package.json" if any(key in data for key in sections) else None


def _toml_format(data: dict[str, Any]) -> str | None:
    if isinstance(data.get("package"), list):
        metadata = _mapping(data.get("metadata"))
        # Poetry writes [metadata] with its lock-version and content-hash; uv writes neither.
        is_poetry = "content-hash" in metadata or "lock-version" in metadata
        return "poetry.lock" if is_poetry else "uv.lock"
    if any(key in data for key in ("project", "tool", "build-system", "dependency-groups")):
        return "pyproject.toml"
    if any(key in data for key in ("packages", "dev-packages", "requires", "source")):
        return "Pipfile"
    return None


def _is_requirements(text: str) -> bool:
    """Whether every line is a requirement, an option or a URL, and one is a requirement."""
    has_requirement = False
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http://", "https://", "file:", ".")):
            continue
        line = line.split(" --", 1)[0]
        compact = "".join(line.split())
        if not _REQUIREMENT_START.match(line) or not (
            _REQUIREMENT_LINE.fullmatch(compact) or _REQUIREMENT_URL_LINE.fullmatch(compact)
        ):
            return False
        has_requirement = True
    return has_requirement


def read_contents(text: str, *, transitive: bool = False) -> tuple[str, list[Dependency]]:
    """One manifest or lockfile given as its contents, without its name: the format found
    (`detect_format`) and its dependencies, as `read_files` reads that file."""
    found = detect_format(text)
    if found is None:
        raise ManifestError(
            "the text is none of the manifests and lockfiles read here; send the whole contents "
            f"of one of: {', '.join(CONTENT_FORMATS)}"
        )
    return found, read_files({found: text}, transitive=transitive)


def describe(dependencies: Iterable[Dependency]) -> str:
    counts: dict[str, int] = {}
    for dependency in dependencies:
        counts[dependency.registry] = counts.get(dependency.registry, 0) + 1
    return ", ".join(f"{n} from {registry}" for registry, n in sorted(counts.items())) or "none"


_READERS = {
    "pyproject.toml": _pyproject,
    "Pipfile": _pipfile,
    "uv.lock": _uv_lock,
    "poetry.lock": _poetry_lock,
    "Pipfile.lock": _pipfile_lock,
    "package.json": _package_json,
    "package-lock.json": _package_lock,
    "pnpm-lock.yaml": _pnpm_lock,
    "yarn.lock": _yarn_lock,
}
