"""PyPI and npm releases: where the registries are, their metadata, verified downloads, layout."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from twinmcp.ingest import apiref
from twinmcp.ingest.config import Settings
from twinmcp.ingest.documents import CONFIG_FILE_NAMES, DocumentError, load_source_config
from twinmcp.ingest.errors import HostileInput, InvalidSource, SourceUnavailable
from twinmcp.ingest.netguard import SafeHttp
from twinmcp.ingest.registries import (
    Registry,
    ReleaseInfo,
    choose_release,
    normalise_pypi,
    npm_repository,
    pypi_repository,
    registry_library_id,
    sorted_releases,
)
from twinmcp.ingest.sources import SourceSpec

logger = logging.getLogger(__name__)

# Project metadata is small for nearly every package; npm's full documents of very busy
# packages (every version's manifest) reach tens of MiB.
MAX_METADATA_BYTES = 64 * 1024 * 1024
_DOC_FOLDERS = ("docs", "doc", "documentation", "website/docs", "site/docs")
_README = re.compile(r"^readme(\.(md|mdx|markdown|rst|txt))?$", re.IGNORECASE)
_discovered: dict[Registry, str] = {}
# A submission asks the registry while its caller waits (the gateway's deadline is 10 s): a
# slow registry is a clear UNAVAILABLE before that, not a deadline with no reason.
SUBMIT_TIMEOUT_SECONDS = 8.0


@dataclass(frozen=True)
class Artifact:
    """The file of a release that is downloaded, with the hash the registry publishes."""

    url: str
    filename: str
    size: int
    algorithm: str  # sha256 (PyPI), sha512 (npm integrity) or sha1 (npm shasum)
    digest: str  # hex


@dataclass(frozen=True)
class Release:
    registry: Registry
    name: str
    version: str
    library_id: str
    title: str
    summary: str
    releases: tuple[ReleaseInfo, ...]
    artifact: Artifact | None
    readme: str = ""
    readme_type: str = ""  # a content type: text/markdown, text/x-rst, text/plain
    notes: tuple[str, ...] = field(default=())

    @property
    def source(self) -> str:
        separator = "==" if self.registry is Registry.PYPI else "@"
        return f"{self.registry.value}:{self.name}{separator}{self.version}"


# --- where the registries are ----------------------------------------------------------------


def pypi_json_base(index_url: str) -> str:
    """The JSON API base of an index: `<base>/pypi/<name>/json`; a /simple URL is accepted."""
    base = index_url.strip().rstrip("/")
    for suffix in ("/+simple", "/simple"):
        base = base.removesuffix(suffix)
    return base


async def _run(*command: str) -> str:
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return ""
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        return ""
    return out.decode("utf-8", "replace") if process.returncode == 0 else ""


async def _pip_index_url() -> str:
    """pip's index as pip itself would use it: PIP_INDEX_URL, pip.conf, else pip's default."""
    listing = await _run(sys.executable, "-m", "pip", "config", "list")
    found: dict[str, str] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".index-url"):
            found[key.split(".", 1)[0]] = value.strip().strip("'\"").split()[0]
    for scope in (":env:", "install", "download", "global"):
        if found.get(scope, "").startswith(("http://", "https://")):
            return found[scope]
    default = await _run(
        sys.executable, "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"
    )
    return default.strip()


async def _npm_registry_url() -> str:
    """npm's registry as npm would use it: NPM_CONFIG_REGISTRY, .npmrc, else npm's default."""
    answer = (await _run("npm", "config", "get", "registry")).strip()
    if answer.startswith(("http://", "https://")):
        return answer
    npmrc = Path(os.path.expanduser("~/.npmrc"))
    try:
        lines = npmrc.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "registry" and value.strip().startswith(("http://", "https://")):
            return value.strip()
    return ""


async def registry_base(registry: Registry, settings: Settings) -> str:
    """The configured base URL; InvalidSource names the setting when nothing is configured."""
    if registry is Registry.PYPI and settings.pypi_index_url:
        return pypi_json_base(settings.pypi_index_url)
    if registry is Registry.NPM and settings.npm_registry_url:
        return settings.npm_registry_url.rstrip("/")
    if registry not in _discovered:
        if registry is Registry.PYPI:
            _discovered[registry] = pypi_json_base(await _pip_index_url())
        else:
            _discovered[registry] = (await _npm_registry_url()).rstrip("/")
    base = _discovered[registry]
    if not base.startswith(("http://", "https://")):
        _discovered.pop(registry, None)
        setting = "PYPI_INDEX_URL" if registry is Registry.PYPI else "NPM_REGISTRY_URL"
        raise InvalidSource(
            f"no {registry.value} registry is configured on this server and none was found in "
            f"{'pip' if registry is Registry.PYPI else 'npm'}'s configuration; "
            f"ask the operator to set {setting}"
        )
    return base


# --- metadata --------------------------------------------------------------------------------


def _http(
    settings: Settings, base: str, timeout: float = 0.0, *, also: tuple[str, ...] = ()
) -> SafeHttp:
    # The registry is the operator's choice (as SEARCH_ADDR is), maybe a mirror on a private
    # network: its host is trusted, and so is the host its answer names for a release's archive
    # (`also`: PyPI's answers name another host for its files, a mirror's may too), since the
    # answer that names it also gives the hash the download must match. Anything else (a
    # redirect from either to another host) is checked.
    hosts = {urlsplit(url).hostname or "" for url in (base, *also)}
    return SafeHttp(
        allow_private=settings.allow_private_networks,
        max_redirects=settings.limits.max_redirects,
        timeout=timeout or max(settings.limits.http_timeout, 120.0),
        trusted_hosts=frozenset(host.lower() for host in hosts - {""}),
    )


async def _get_json(http: SafeHttp, url: str, what: str) -> tuple[str, dict[str, Any]]:
    try:
        fetched = await http.get(url, max_bytes=MAX_METADATA_BYTES)
    except SourceUnavailable as exc:
        raise SourceUnavailable(
            f"the package registry cannot be reached for {what} ({exc}); nothing was changed: "
            "try again later, or check the registry setting (PYPI_INDEX_URL, NPM_REGISTRY_URL)"
        ) from exc
    if fetched.status == 404:
        raise InvalidSource(f"the registry has no {what}; check the name's spelling")
    if fetched.status != 200:
        raise SourceUnavailable(
            f"the registry answered {fetched.status} for {what}; try again later"
        )
    try:
        data = json.loads(fetched.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceUnavailable(
            f"the registry's answer for {what} is not JSON; check the configured registry URL"
        ) from None
    if not isinstance(data, dict):
        raise SourceUnavailable(f"the registry's answer for {what} is not a JSON object")
    return fetched.url, data


async def resolve_release(
    registry: Registry,
    name: str,
    wanted: str,
    settings: Settings,
    library_id: str = "",
    *,
    timeout: float = 0.0,
) -> Release:
    """The release `wanted` names (newest usable when ""), its id, metadata and download.

    `timeout` bounds the metadata request (0: the worker's generous default).
    """
    base = await registry_base(registry, settings)
    http = _http(settings, base, timeout)
    try:
        if registry is Registry.PYPI:
            url, data = await _get_json(
                http, f"{base}/pypi/{quote(normalise_pypi(name))}/json", f"PyPI project {name!r}"
            )
            return _pypi_release(name, wanted, url, data, library_id)
        url, data = await _get_json(
            http, f"{base}/{quote(name, safe='@')}", f"npm package {name!r}"
        )
        return _npm_release(name, wanted, url, data, library_id)
    finally:
        await http.close()


def _mapping(value: object) -> dict[str, Any]:
    """A JSON object of the answer, or {} when the registry left it out or sent another type."""
    return value if isinstance(value, dict) else {}


def _size(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _pypi_release(
    name: str, wanted: str, url: str, data: dict[str, Any], library_id: str
) -> Release:
    info = _mapping(data.get("info"))
    files_by_version = _mapping(data.get("releases"))
    releases: list[ReleaseInfo] = []
    for version, files in files_by_version.items():
        usable = [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
        if not usable:
            continue  # a release without files cannot be ingested (nor installed)
        releases.append(
            ReleaseInfo(
                str(version),
                is_yanked=all(bool(f.get("yanked")) for f in usable),
                uploaded=min(_text(f.get("upload_time_iso_8601")) for f in usable),
            )
        )
    display = _text(info.get("name")) or name
    chosen = choose_release(Registry.PYPI, display, releases, wanted)
    listed = files_by_version.get(chosen.version)
    files = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    artifact = _pypi_artifact(files, url)
    urls = _mapping(info.get("project_urls"))
    repository = pypi_repository(
        {str(k): str(v) for k, v in urls.items()}, _text(info.get("home_page"))
    )
    notes = [f"{display} {chosen.version} is yanked on the registry"] if chosen.is_yanked else []
    is_latest_info = _text(info.get("version")) == chosen.version
    return Release(
        Registry.PYPI,
        display,
        chosen.version,
        library_id or repository or registry_library_id(Registry.PYPI, display),
        display,
        _text(info.get("summary")),
        tuple(sorted_releases(Registry.PYPI, releases)),
        artifact,
        # The project document describes its newest release; older ones bring PKG-INFO.
        readme=_text(info.get("description")) if is_latest_info else "",
        readme_type=_text(info.get("description_content_type")),
        notes=tuple(notes),
    )


def _pypi_artifact(files: list[dict[str, Any]], answer_url: str) -> Artifact | None:
    def rank(item: dict[str, Any]) -> int:
        filename = _text(item.get("filename")).lower()
        if item.get("packagetype") == "sdist" and filename.endswith((".tar.gz", ".zip")):
            return 0
        if filename.endswith("-none-any.whl"):
            return 1
        return 2 if filename.endswith(".whl") else 9

    candidates = sorted((f for f in files if rank(f) < 9), key=rank)
    if not candidates:
        return None
    chosen = candidates[0]
    digests = _mapping(chosen.get("digests"))
    return Artifact(
        urljoin(answer_url, _text(chosen.get("url"))),
        _text(chosen.get("filename")),
        _size(chosen.get("size")),
        "sha256",
        _text(digests.get("sha256")).lower(),
    )


def _npm_release(
    name: str, wanted: str, url: str, data: dict[str, Any], library_id: str
) -> Release:
    versions = _mapping(data.get("versions"))
    times = _mapping(data.get("time"))
    releases = [
        ReleaseInfo(
            str(version),
            is_yanked=isinstance(manifest, dict) and bool(manifest.get("deprecated")),
            uploaded=_text(times.get(version)),
        )
        for version, manifest in versions.items()
    ]
    tags = _mapping(data.get("dist-tags"))
    display = _text(data.get("name")) or name
    chosen = choose_release(
        Registry.NPM, display, releases, wanted, {str(k): str(v) for k, v in tags.items()}
    )
    manifest = versions.get(chosen.version)
    manifest = manifest if isinstance(manifest, dict) else {}
    dist = _mapping(manifest.get("dist"))
    artifact = None
    tarball = _text(dist.get("tarball"))
    if tarball:
        integrity = _text(dist.get("integrity"))
        sha512 = next((part[7:] for part in integrity.split() if part.startswith("sha512-")), "")
        if sha512:
            algorithm, digest = "sha512", _base64_hex(sha512)
        else:
            algorithm, digest = "sha1", _text(dist.get("shasum")).lower()
        artifact = Artifact(
            urljoin(url, tarball),
            tarball.rsplit("/", 1)[-1],
            0,  # npm publishes only the unpacked size; the download is bounded as it streams
            algorithm,
            digest,
        )
    repository = npm_repository(manifest.get("repository") or data.get("repository"))
    notes = []
    if chosen.is_yanked:
        notes.append(f"{display} {chosen.version} is deprecated: {manifest.get('deprecated')}")
    readme = _text(manifest.get("readme"))
    if not readme and tags.get("latest") == chosen.version:
        readme = _text(data.get("readme"))
    return Release(
        Registry.NPM,
        display,
        chosen.version,
        library_id or repository or registry_library_id(Registry.NPM, display),
        display,
        _text(manifest.get("description")) or _text(data.get("description")),
        tuple(sorted_releases(Registry.NPM, releases)),
        artifact,
        readme=readme,
        readme_type="text/markdown",
        notes=tuple(notes),
    )


def _base64_hex(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).hex()
    except ValueError:
        return ""


# --- the download ----------------------------------------------------------------------------


async def download(release: Release, workdir: Path, settings: Settings) -> Path:
    """The release's archive in `workdir`, checked against the registry's published hash."""
    artifact = release.artifact
    if artifact is None:
        raise InvalidSource(
            f"{release.source} has no source archive or pure-Python wheel to read; "
            "ingest the project's repository instead"
        )
    if not artifact.digest:
        raise HostileInput(
            f"the registry publishes no hash for {artifact.filename}; refused, since the "
            "download could not be checked"
        )
    maximum = settings.limits.max_download_bytes
    if artifact.size > maximum:
        raise InvalidSource(
            f"{artifact.filename} is {artifact.size} bytes, over the {maximum}-byte download limit"
        )
    http = _http(settings, await registry_base(release.registry, settings), also=(artifact.url,))
    try:
        fetched = await http.get(artifact.url, max_bytes=maximum)
    finally:
        await http.close()
    if fetched.status != 200:
        raise SourceUnavailable(
            f"downloading {artifact.filename} answered {fetched.status}; try again later"
        )
    actual = hashlib.new(artifact.algorithm, fetched.body).hexdigest()
    if actual != artifact.digest:
        raise HostileInput(
            f"{artifact.filename} does not match the {artifact.algorithm} the registry "
            f"publishes ({actual[:16]}... instead of {artifact.digest[:16]}...); refused, "
            "nothing was indexed"
        )
    suffix = ".zip" if artifact.filename.lower().endswith((".zip", ".whl")) else ".tar.gz"
    path = workdir / f"release{suffix}"
    await asyncio.to_thread(path.write_bytes, fetched.body)
    return path


# --- what is indexed -------------------------------------------------------------------------


def lay_out(root: Path, release: Release, max_file_bytes: int) -> list[str]:
    """Turns an extracted release into what is indexed: docs folder, README, API reference.

    Writes a twinmcp.json restricting selection to the documentation folder (the package's own
    configuration's folders when it has them) and the generated API reference. Blocking.
    """
    notes = list(release.notes)
    try:
        config = load_source_config(root)
    except DocumentError as exc:
        raise InvalidSource(f"the release's configuration is invalid: {exc}") from exc
    if not any(_README.match(p.name) for p in root.iterdir() if p.is_file()):
        text, content_type = _packaged_description(root)
        if not text:
            text, content_type = release.readme, release.readme_type
        if text:
            suffix = {"text/x-rst": ".rst", "text/plain": ".txt"}.get(
                content_type.split(";")[0].strip().lower(), ".md"
            )
            (root / f"README{suffix}").write_text(text, encoding="utf-8")
    folders = list(config.folders)
    if not folders:
        folders = [f for f in _DOC_FOLDERS if (root / f).is_dir() and not (root / f).is_symlink()]
        folders = folders[:1]
    api_folder = "api" if not (root / "api").exists() else "twinmcp-api"
    out = root / api_folder
    if release.registry is Registry.PYPI:
        written = apiref.write_python_reference(root, release.name, out, max_file_bytes)
    else:
        written = apiref.write_typescript_reference(root, release.name, out, max_file_bytes)
    notes.append(f"API reference: {len(written)} pages generated from the package's code")
    for name in CONFIG_FILE_NAMES:
        (root / name).unlink(missing_ok=True)
    generated = {
        **config.extra,
        "projectTitle": config.project_title or release.title,
        "description": config.description or release.summary,
        "folders": [*folders, api_folder],
        "excludeFolders": list(config.exclude_folders),
        "excludeFiles": list(config.exclude_files),
        "rules": list(config.rules),
    }
    (root / "twinmcp.json").write_text(json.dumps(generated), encoding="utf-8")
    return notes


def _packaged_description(root: Path) -> tuple[str, str]:
    """The long description in PKG-INFO (sdist) or *.dist-info/METADATA (wheel), if any."""
    candidates = [root / "PKG-INFO", *sorted(root.glob("*.dist-info/METADATA"))]
    for path in candidates:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 4 * 1024 * 1024:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        headers, _, body = text.replace("\r\n", "\n").partition("\n\n")
        content_type = ""
        for line in headers.splitlines():
            if line.lower().startswith("description-content-type:"):
                content_type = line.split(":", 1)[1].strip()
        if body.strip():
            return body.strip() + "\n", content_type
    return "", ""


async def settle_release(
    spec: SourceSpec, version: str, settings: Settings, library_id: str = ""
) -> Release:
    """The release a submission names (source pin or `version` option), checked on the registry."""
    if spec.version and version and spec.version.removeprefix("==") != version.removeprefix("=="):
        raise InvalidSource(
            f"the source names version {spec.version!r} but the version option says "
            f"{version!r}; give one of them"
        )
    return await resolve_release(
        Registry(spec.kind.value),
        spec.repo,
        spec.version or version,
        settings,
        library_id,
        timeout=SUBMIT_TIMEOUT_SECONDS,
    )


async def newest_release(spec: SourceSpec, settings: Settings) -> str:
    """The registry's newest release that is not yanked, deprecated or a pre-release."""
    release = await resolve_release(
        Registry(spec.kind.value), spec.repo, "", settings, timeout=SUBMIT_TIMEOUT_SECONDS
    )
    return release.version


async def list_releases(
    registry: Registry, name: str, settings: Settings, *, timeout: float = 0.0
) -> list[ReleaseInfo]:
    """Every release the registry lists for the package, newest first (followed libraries)."""
    release = await resolve_release(registry, name, "", settings, timeout=timeout)
    return list(release.releases)
