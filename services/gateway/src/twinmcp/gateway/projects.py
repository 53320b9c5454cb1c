"""The `project` of a question: a registered project's name, or the text of one of the project's
manifests or lockfiles, read here (at the edge) into the packages it locks for search."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

from twinmcp.gateway.arguments import MAX_PROJECT_CHARS, check_text
from twinmcp.gateway.errors import InputError
from twinmcp.lockfiles import CONTENT_FORMATS, ManifestError, read_contents
from twinmcp.search.v1 import search_pb2

# A registered project's name (search's rule); anything else is read as a file's contents.
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# One argument for both forms: a registered name can never be mistaken for a file's contents
# (a name is one word of letters, digits, '.', '_', '-'), and agents find a single "project"
# to fill whether the user registered the project or the agent just read its lockfile.
PROJECT_SCHEMA = {
    "type": "string",
    "maxLength": MAX_PROJECT_CHARS,
    "description": (
        "Optional: the user's project, so the answer is for the exact version it locks (the "
        "answer says which). Either the name of a project registered with TwinMCP ('shop'), "
        "or the whole text of ONE of its lockfiles or manifests as read from disk: "
        f"{', '.join(CONTENT_FORMATS)} (the format is recognised from the text). Prefer the "
        "lockfile; a file that locks none of the library's packages gets the default version."
    ),
}


@dataclass(frozen=True)
class Project:
    """What a question's `project` names: a registered project, or the packages a file sent
    with it locks (`file_format` says which file it read as)."""

    name: str = ""
    file_format: str = ""
    packages: tuple[search_pb2.LockedPackage, ...] = ()

    @property
    def is_given(self) -> bool:
        return bool(self.name or self.file_format)

    @property
    def label(self) -> str:
        """How answers name it: "project 'shop'", "the uv.lock passed as 'project'"."""
        return (
            f"project '{self.name}'" if self.name else f"the {self.file_format} passed as 'project'"
        )

    @property
    def key(self) -> str:
        """Tells answers for different projects apart (the edge's answer cache): the name, or
        the file's format (the answer names it) and a digest of the packages it locks ("#" is
        in no project name)."""
        if self.name or not self.file_format:
            return self.name
        locked = sorted(f"{p.registry}\x00{p.name}\x00{p.version}" for p in self.packages)
        digest = hashlib.sha256("\x01".join(locked).encode()).hexdigest()
        return f"#{self.file_format}#{digest}"


NO_PROJECT = Project()


def read_project(raw: str) -> Project:
    """`raw` as a project: a name as it is (search says when none is registered), else the
    contents of one manifest or lockfile, its format found from the text. InputError when it is
    too long, not Unicode, or none of the formats read here."""
    text = raw.strip()
    if not text:
        return NO_PROJECT
    if PROJECT_NAME.match(text):
        return Project(name=text)
    check_text("project", raw, MAX_PROJECT_CHARS)  # too long, or not Unicode
    try:
        file_format, dependencies = read_contents(raw)
    except ManifestError as error:
        raise InputError(
            "'project' is neither a registered project's name (letters, digits, '.', '_' and "
            f"'-') nor a manifest or lockfile read here: {error}"
        ) from None
    packages = tuple(
        search_pb2.LockedPackage(registry=d.registry, name=d.name, version=d.version)
        for d in dependencies
        if d.is_locked
    )
    return Project(file_format=file_format, packages=packages)


async def read_project_off_loop(raw: str) -> Project:
    """`read_project`, a file's text parsed in a worker thread: a 1 MB lockfile (or a hostile
    one nested thousands deep) takes the parsers up to seconds that other callers must not
    wait out on the event loop."""
    if len(raw) <= _INLINE_CHARS:
        return read_project(raw)
    return await asyncio.to_thread(read_project, raw)


# Text this short (names, a requirements line or two) is read on the loop: a thread costs more.
_INLINE_CHARS = 2_000
