"""Copying a local source folder: ordinary files only, bytes read bounded, stoppable mid-file."""

from __future__ import annotations

import errno
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from twinmcp.ingest.errors import InvalidSource
from twinmcp.ingest.selection import excluded_dir_reason
from twinmcp.ingest.sources import is_special_filesystem

CHUNK_BYTES = 64 * 1024
# Opening never blocks (a FIFO swapped in after the check) and never follows a last-moment link.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)


class CopyStopped(Exception):
    """The copy was asked to stop (its job was cancelled); the destination is incomplete."""


@dataclass(frozen=True)
class CopyLimits:
    max_file_bytes: int
    max_total_bytes: int
    max_files: int


@dataclass
class CopyResult:
    files: int = 0
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)


def read_chunk(reader: BinaryIO, size: int) -> bytes:
    """One read; a seam so tests can slow the disk down."""
    return reader.read(size)


def copy_folder(source: Path, dest: Path, limits: CopyLimits, stop: threading.Event) -> CopyResult:
    """Copies what selection could read (no dot-entries, build output or dependency trees).

    Sizes are never trusted: /proc-style files report 0 bytes and never end, so every file is
    read against the per-file limit and all of them against the total. Links are copied as
    links (remove_outward_links drops those leaving the tree); FIFOs, sockets and devices are
    skipped unopened; other mounted filesystems inside the folder are not entered.
    """
    root_stat = os.stat(source)
    if not stat.S_ISDIR(root_stat.st_mode) or is_special_filesystem(source):
        raise InvalidSource("the local source is not an ordinary folder; refused")
    result = CopyResult()
    dest.mkdir(parents=True, exist_ok=True)
    pending: list[PurePosixPath] = [PurePosixPath()]
    while pending:
        relative = pending.pop()
        try:
            names = sorted(os.listdir(source / relative))
        except OSError as exc:
            result.notes.append(f"{relative.as_posix()}/: unreadable ({_reason(exc)}), skipped")
            continue
        for name in names:
            if stop.is_set():
                raise CopyStopped
            if name.startswith("."):
                continue
            item = relative / name
            _copy_entry(source, dest, item, root_stat.st_dev, limits, stop, result, pending)
    return result


def _copy_entry(
    source: Path,
    dest: Path,
    item: PurePosixPath,
    device: int,
    limits: CopyLimits,
    stop: threading.Event,
    result: CopyResult,
    pending: list[PurePosixPath],
) -> None:
    origin, target = source / item, dest / item
    try:
        info = os.lstat(origin)
    except OSError as exc:
        result.notes.append(f"{item.as_posix()}: unreadable ({_reason(exc)}), skipped")
        return
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        if excluded_dir_reason(origin):
            return
        if info.st_dev != device:
            result.notes.append(f"{item.as_posix()}/: another filesystem is mounted here, skipped")
            return
        target.mkdir()
        pending.append(item)
    elif stat.S_ISLNK(mode):
        _count_file(result, limits)
        target.symlink_to(os.readlink(origin))
    elif stat.S_ISREG(mode):
        _count_file(result, limits)
        if info.st_size > limits.max_file_bytes:
            result.notes.append(f"{item.as_posix()}: skipped, larger than {limits.max_file_bytes}")
            return
        _copy_file(origin, target, item, limits, stop, result)
    else:
        result.notes.append(f"{item.as_posix()}: not an ordinary file (FIFO, device, socket)")


def _count_file(result: CopyResult, limits: CopyLimits) -> None:
    result.files += 1
    if result.files > limits.max_files:
        raise InvalidSource(
            f"the local folder holds more than {limits.max_files} files; point at its "
            "documentation folder or raise INGEST_MAX_ARCHIVE_FILES"
        )


def _copy_file(
    origin: Path,
    target: Path,
    item: PurePosixPath,
    limits: CopyLimits,
    stop: threading.Event,
    result: CopyResult,
) -> None:
    try:
        descriptor = os.open(origin, _OPEN_FLAGS)
    except OSError as exc:
        result.notes.append(f"{item.as_posix()}: unreadable ({_reason(exc)}), skipped")
        return
    with os.fdopen(descriptor, "rb") as reader:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            result.notes.append(f"{item.as_posix()}: not an ordinary file (FIFO, device, socket)")
            return
        read = 0
        is_dropped = False
        with target.open("wb") as out:
            while True:
                if stop.is_set():
                    raise CopyStopped
                try:
                    chunk = read_chunk(reader, CHUNK_BYTES)
                except OSError as exc:
                    result.notes.append(f"{item.as_posix()}: unreadable ({_reason(exc)}), skipped")
                    is_dropped = True
                    break
                if not chunk:
                    break
                read += len(chunk)
                result.bytes_read += len(chunk)
                if result.bytes_read > limits.max_total_bytes:
                    raise InvalidSource(
                        f"the local folder holds more than {limits.max_total_bytes} bytes to "
                        "read; point at its documentation folder or raise "
                        "INGEST_MAX_ARCHIVE_BYTES"
                    )
                if read > limits.max_file_bytes:
                    # Its reported size was below the limit: the file grew or lied about it.
                    result.notes.append(
                        f"{item.as_posix()}: skipped, larger than {limits.max_file_bytes}"
                    )
                    is_dropped = True
                    break
                out.write(chunk)
    if is_dropped:
        target.unlink()


def _reason(exc: OSError) -> str:
    # The strerror only: str(exc) would carry the server path.
    return exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
