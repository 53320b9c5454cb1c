"""Turning any source spec into a local folder plus the facts the index needs about it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from twinmcp.ingest.config import Settings
from twinmcp.ingest.errors import IngestError
from twinmcp.ingest.fetching import gitrepo, registry
from twinmcp.ingest.fetching.archives import ArchiveLimits, extract_archive, remove_outward_links
from twinmcp.ingest.fetching.folders import CopyLimits, CopyStopped, copy_folder
from twinmcp.ingest.fetching.github import GitHubClient
from twinmcp.ingest.fetching.web import crawl, fetch_llms_txt
from twinmcp.ingest.jobs import SourceOptions
from twinmcp.ingest.netguard import SafeHttp
from twinmcp.ingest.registries import Registry
from twinmcp.ingest.sources import (
    REGISTRY_KINDS,
    SourceKind,
    SourceSpec,
    check_local_path,
    public_source,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Materialised:
    root: Path
    version: str
    ref: str
    source_type: str  # a SourceKind value
    source_url: str
    title: str = ""
    description: str = ""
    stars: int = 0
    base_url: str = ""
    notes: list[str] = field(default_factory=list)
    # A registry release: the package as a source ("pypi:flask") and the registry's usable
    # releases, newest first, stored with the library (search answers unindexed versions).
    registry_source: str = ""
    registry_releases: tuple[str, ...] = ()


def archive_limits(settings: Settings) -> ArchiveLimits:
    limits = settings.limits
    return ArchiveLimits(
        max_total_bytes=limits.max_archive_bytes,
        max_files=limits.max_archive_files,
        max_file_bytes=limits.max_file_bytes,
        max_ratio=limits.max_compression_ratio,
    )


def _matching_tag(tags: list[str], version: str) -> str:
    for candidate in (version, f"v{version}", version.removeprefix("v")):
        if candidate in tags:
            return candidate
    return ""


def _newest_tag(tags: list[str]) -> str:
    def key(tag: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", tag)[:4])

    releases = [t for t in tags if re.search(r"\d", t)]
    return max(releases, key=key) if releases else ""


def copy_limits(settings: Settings) -> CopyLimits:
    limits = settings.limits
    return CopyLimits(
        max_file_bytes=limits.max_file_bytes,
        max_total_bytes=limits.max_archive_bytes,
        max_files=limits.max_archive_files,
    )


async def in_thread(work: Callable[[threading.Event], T]) -> T:
    """Runs blocking file work off the event loop; a cancelled caller stops it before returning.

    asyncio.to_thread alone would leave the thread copying after its job was cancelled (and
    its work folder deleted), so `work` gets an event it checks between files and chunks.
    """
    stop = threading.Event()
    running = asyncio.ensure_future(asyncio.to_thread(work, stop))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(CopyStopped, IngestError, OSError):
            await running
        raise


async def materialise(
    spec: SourceSpec, options: SourceOptions, workdir: Path, settings: Settings
) -> Materialised:
    """Fetches into `workdir/src`; raises InvalidSource/HostileInput/SourceUnavailable."""
    root = workdir / "src"
    await asyncio.to_thread(shutil.rmtree, root, True)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    ref = options.ref or spec.ref
    name = spec.library_id.rsplit("/", 1)[-1]
    if spec.kind in {SourceKind.LOCAL, SourceKind.ARCHIVE}:
        # Checked again where the files are read, whoever parsed the spec and with what roots.
        location = Path(spec.location)
        await asyncio.to_thread(check_local_path, location, settings.local_roots)
        if spec.kind is SourceKind.LOCAL:
            # A copy, so the source folder can change while the job runs without tearing it.
            limits = copy_limits(settings)
            notes = (await in_thread(lambda stop: copy_folder(location, root, limits, stop))).notes
        else:
            bounds = archive_limits(settings)
            notes = (
                await in_thread(lambda stop: extract_archive(location, root, bounds, stop=stop))
            ).notes
        # What readers see as the source: the folder's or archive's name, not the server path.
        result = Materialised(
            root, options.version or "latest", "", "local", public_source(spec), name
        )
        result.notes.extend(notes)
    elif spec.kind is SourceKind.GITHUB:
        result = await _github(spec, options, ref, workdir, root, settings)
    elif spec.kind in REGISTRY_KINDS:
        result = await _registry(spec, options, workdir, root, settings)
    elif spec.kind is SourceKind.GIT:
        access = gitrepo.GitAccess.from_settings(settings)
        if not ref and options.version:
            ref = _matching_tag(await gitrepo.list_tags(spec.location, access), options.version)
        await gitrepo.clone(spec.location, root, ref, access)
        result = Materialised(
            root, options.version or ref or "latest", ref, "git", spec.location, spec.repo or name
        )
    else:
        http = SafeHttp(
            allow_private=settings.allow_private_networks,
            max_redirects=settings.limits.max_redirects,
            timeout=settings.limits.http_timeout,
        )
        try:
            max_pages = options.max_pages or settings.limits.max_pages
            if spec.kind is SourceKind.WEBSITE:
                web = await crawl(
                    http,
                    spec.location,
                    root,
                    max_pages=max_pages,
                    max_depth=options.max_depth or settings.limits.max_depth,
                    max_bytes=settings.limits.max_page_bytes,
                )
                base_url = (
                    spec.location.split("://", 1)[0]
                    + "://"
                    + spec.location.split("://", 1)[1].split("/", 1)[0]
                    + "/"
                )
            else:
                web = await fetch_llms_txt(
                    http,
                    spec.location,
                    root,
                    max_pages=max_pages,
                    max_bytes=settings.limits.max_page_bytes,
                )
                base_url = ""
        finally:
            await http.close()
        result = Materialised(
            root,
            options.version or "latest",
            "",
            spec.kind.value,
            spec.location,
            name,
            base_url=base_url,
        )
        result.notes.extend(web.notes)
    result.notes.extend(await asyncio.to_thread(remove_outward_links, root))
    return result


async def _github(
    spec: SourceSpec,
    options: SourceOptions,
    ref: str,
    workdir: Path,
    root: Path,
    settings: Settings,
) -> Materialised:
    client = GitHubClient(
        settings.github_api_url,
        settings.github_token,
        max_download_bytes=settings.limits.max_download_bytes,
    )
    try:
        repository = await client.repository(spec.owner, spec.repo)
        if not ref and options.version:
            ref = _matching_tag(await client.tags(spec.owner, spec.repo), options.version)
        tarball = workdir / "source.tar.gz"
        await client.download_tarball(spec.owner, spec.repo, ref, tarball)
    finally:
        await client.close()
    bounds = archive_limits(settings)
    extraction = await in_thread(
        lambda stop: extract_archive(tarball, root, bounds, strip_top_folder=True, stop=stop)
    )
    await asyncio.to_thread(tarball.unlink)
    checked_out = ref or repository.default_branch
    result = Materialised(
        root,
        options.version or ref or "latest",
        ref,
        "github",
        spec.location,
        spec.repo,
        repository.description,
        repository.stars,
        base_url=f"{spec.location}/blob/{checked_out}/",
    )
    result.notes.extend(extraction.notes)
    return result


async def _registry(
    spec: SourceSpec, options: SourceOptions, workdir: Path, root: Path, settings: Settings
) -> Materialised:
    """A PyPI or npm release: verified download, extraction, docs + README + API reference."""
    release = await registry.resolve_release(
        Registry(spec.kind.value),
        spec.repo,
        options.version or spec.version,
        settings,
        library_id=spec.library_id,
    )
    archive = await registry.download(release, workdir, settings)
    bounds = archive_limits(settings)
    extraction = await in_thread(
        lambda stop: extract_archive(archive, root, bounds, strip_top_folder=True, stop=stop)
    )
    await asyncio.to_thread(archive.unlink)
    # Links out of the tree go before the API reference is read from it.
    notes = [*extraction.notes, *await asyncio.to_thread(remove_outward_links, root)]
    notes.extend(
        await asyncio.to_thread(registry.lay_out, root, release, settings.limits.max_file_bytes)
    )
    result = Materialised(
        root,
        release.version,
        "",
        spec.kind.value,
        spec.location,
        release.title,
        release.summary,
        registry_source=f"{release.registry.value}:{release.name}",
        registry_releases=tuple(r.version for r in release.releases if not r.is_yanked),
    )
    result.notes.extend(notes)
    return result


async def newest_tag(spec: SourceSpec, settings: Settings) -> str:
    """The most recent release tag of a GitHub or git source ("" when it has none)."""
    if spec.kind is SourceKind.GITHUB:
        client = GitHubClient(settings.github_api_url, settings.github_token)
        try:
            return _newest_tag(await client.tags(spec.owner, spec.repo))
        finally:
            await client.close()
    if spec.kind is SourceKind.GIT:
        access = gitrepo.GitAccess.from_settings(settings)
        return _newest_tag(await gitrepo.list_tags(spec.location, access))
    return ""
