"""Extracting .tar.gz/.tgz/.zip archives safely: bombs, traversal and outward links refused."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tarfile
import threading
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from twinmcp.ingest.errors import HostileInput, InvalidSource
from twinmcp.ingest.fetching.folders import CopyStopped

logger = logging.getLogger(__name__)

# What tarfile, gzip, zlib and zipfile raise on a damaged or foreign file. OSError is in the
# list because gzip reports a bad header as one (BadGzipFile, no errno); a full disk, which has
# an errno, is told apart below.
_CORRUPT_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,  # a zip compression method Python lacks
    RuntimeError,  # an encrypted zip member
    ValueError,
    OSError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int
    max_files: int
    max_file_bytes: int
    max_ratio: int


@dataclass
class Extraction:
    files: int = 0
    total_bytes: int = 0  # as the archive declares them
    bytes_written: int = 0  # as read, which a lying header cannot shrink
    notes: list[str] = field(default_factory=list)


def _safe_relative(name: str, archive: str) -> PurePosixPath | None:
    """The member's path inside the tree; None for the root itself; refuses escapes."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise HostileInput(f"{archive} holds an absolute path {name!r}; refused")
    parts = [p for p in PurePosixPath(cleaned).parts if p not in {"", "."}]
    if ".." in parts:
        raise HostileInput(f"{archive} holds a path escaping the archive {name!r}; refused")
    return PurePosixPath(*parts) if parts else None


def _link_stays_inside(member: PurePosixPath, target: str, *, is_hard: bool) -> bool:
    if target.startswith("/"):
        return False
    base = PurePosixPath() if is_hard else member.parent
    depth = 0
    for part in (base / target).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in {"", "."}:
            depth += 1
    return True


def _copy_limited(
    source: IO[bytes], dest: Path, limit: int, archive: str, stop: threading.Event
) -> int:
    written = 0
    with dest.open("wb") as out:
        while chunk := source.read(65536):
            if stop.is_set():
                raise CopyStopped
            written += len(chunk)
            if written > limit:
                raise HostileInput(f"{archive} expands beyond {limit} bytes; refused as a bomb")
            out.write(chunk)
    return written


def extract_archive(
    archive: Path,
    dest: Path,
    limits: ArchiveLimits,
    *,
    strip_top_folder: bool = False,
    stop: threading.Event | None = None,
) -> Extraction:
    """Extracts into `dest`; on a refusal `dest` is removed and HostileInput says why.

    Blocking: run it in a thread. Setting `stop` ends it between files and chunks
    (CopyStopped). A damaged archive is an InvalidSource naming no server path.
    """
    dest.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    try:
        name = archive.name.lower()
        if name.endswith(".zip"):
            result = _extract_zip(archive, dest, limits, stop)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            result = _extract_tar(archive, dest, limits, stop)
        else:
            raise InvalidSource(f"{archive.name} is not a .tar.gz, .tgz or .zip archive")
    except (HostileInput, InvalidSource, CopyStopped):
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except _CORRUPT_ERRORS as exc:
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the disk, not the archive (ENOSPC, EIO): the job is retried
        raise InvalidSource(
            f"{archive.name}: the archive is corrupt or not a .tar.gz/.zip: "
            f"{_reason(exc, archive, dest)}; check the file and upload it again"
        ) from exc
    if strip_top_folder:
        _strip_single_top_folder(dest)
    return result


def _check_totals(result: Extraction, size: int, archive: Path, limits: ArchiveLimits) -> None:
    result.files += 1
    result.total_bytes += size
    if result.files > limits.max_files:
        raise HostileInput(f"{archive.name} holds more than {limits.max_files} files; refused")
    if result.total_bytes > limits.max_total_bytes:
        raise HostileInput(
            f"{archive.name} expands to more than {limits.max_total_bytes} bytes; "
            "refused as an archive bomb"
        )
    compressed = max(archive.stat().st_size, 1)
    if result.total_bytes > 1024 * 1024 and result.total_bytes / compressed > limits.max_ratio:
        raise HostileInput(
            f"{archive.name} expands more than {limits.max_ratio}x its size; "
            "refused as an archive bomb"
        )


def _reason(exc: BaseException, archive: Path, dest: Path) -> str:
    """The library's words for what is wrong, with any server path taken out."""
    text = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or (
        type(exc).__name__
    )
    for path in (str(dest), str(archive), str(archive.parent)):
        text = text.replace(path, "<archive>")
    return text[:200]


def _check_written(result: Extraction, archive: Path, limits: ArchiveLimits) -> None:
    if result.bytes_written > limits.max_total_bytes:
        raise HostileInput(
            f"{archive.name} expands to more than {limits.max_total_bytes} bytes; "
            "refused as an archive bomb"
        )


def _extract_tar(
    archive: Path, dest: Path, limits: ArchiveLimits, stop: threading.Event
) -> Extraction:
    result = Extraction()
    tar = tarfile.open(archive, mode="r:*")  # noqa: SIM115 - closed by the with below
    with tar:
        # Everything is checked before any byte is written, so a hostile archive leaves nothing.
        members = []
        for member in tar:
            if stop.is_set():
                raise CopyStopped
            relative = _safe_relative(member.name, archive.name)
            if relative is None:
                continue
            if member.issym() or member.islnk():
                if not _link_stays_inside(relative, member.linkname, is_hard=member.islnk()):
                    raise HostileInput(
                        f"{archive.name}: {member.name!r} links outside the archive "
                        f"({member.linkname!r}); refused"
                    )
                result.notes.append(f"{relative}: link not extracted")
                continue
            if member.isdir():
                continue
            if not member.isfile():
                result.notes.append(f"{relative}: special file not extracted")
                continue
            _check_totals(result, member.size, archive, limits)
            members.append((member, relative))
        for member, relative in members:
            if stop.is_set():
                raise CopyStopped
            if member.size > limits.max_file_bytes:
                result.notes.append(f"{relative}: skipped, larger than {limits.max_file_bytes}")
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                continue
            with source:
                result.bytes_written += _copy_limited(
                    source, target, limits.max_file_bytes, archive.name, stop
                )
                _check_written(result, archive, limits)
    return result


def _extract_zip(
    archive: Path, dest: Path, limits: ArchiveLimits, stop: threading.Event
) -> Extraction:
    result = Extraction()
    zf = zipfile.ZipFile(archive)
    with zf:
        members = []
        for info in zf.infolist():
            if stop.is_set():
                raise CopyStopped
            relative = _safe_relative(info.filename, archive.name)
            if relative is None or info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                target = zf.read(info)[:4096].decode("utf-8", "replace")
                if not _link_stays_inside(relative, target, is_hard=False):
                    raise HostileInput(
                        f"{archive.name}: {info.filename!r} links outside the archive; refused"
                    )
                result.notes.append(f"{relative}: link not extracted")
                continue
            if (
                info.compress_size
                and info.file_size / info.compress_size > limits.max_ratio
                and (info.file_size > 1024 * 1024)
            ):
                raise HostileInput(
                    f"{archive.name}: {info.filename!r} expands "
                    f"{info.file_size // max(info.compress_size, 1)}x; refused as a zip bomb"
                )
            _check_totals(result, info.file_size, archive, limits)
            members.append((info, relative))
        for info, relative in members:
            if stop.is_set():
                raise CopyStopped
            if info.file_size > limits.max_file_bytes:
                result.notes.append(f"{relative}: skipped, larger than {limits.max_file_bytes}")
                continue
            out_path = dest / relative
            out_path.parent.mkdir(parents=True, exist_ok=True)
            # The declared size can lie; the copy enforces the limit on the real bytes.
            with zf.open(info) as source:
                result.bytes_written += _copy_limited(
                    source, out_path, limits.max_file_bytes, archive.name, stop
                )
                _check_written(result, archive, limits)
    return result


def _strip_single_top_folder(dest: Path) -> None:
    """GitHub tarballs wrap everything in owner-repo-sha/; lift its content up."""
    entries = list(dest.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return
    top = entries[0]
    temporary = dest / (top.name + ".lifting")
    top.rename(temporary)
    for child in temporary.iterdir():
        child.rename(dest / child.name)
    temporary.rmdir()


def remove_outward_links(root: Path) -> list[str]:
    """Deletes symlinks in `root` that point outside it (git checkouts can hold them)."""
    notes = []
    resolved_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            try:
                is_inside = path.resolve().is_relative_to(resolved_root)
            except (OSError, RuntimeError):  # a link loop: 3.11 raises RuntimeError
                is_inside = False
            if not is_inside:
                path.unlink()
                notes.append(f"{path.relative_to(root).as_posix()}: link out of the tree removed")
    return notes
