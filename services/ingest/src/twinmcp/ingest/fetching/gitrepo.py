"""Shallow git clones and tag listings through the git command line."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path

from twinmcp.ingest.errors import InvalidSource, SourceUnavailable

logger = logging.getLogger(__name__)

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_ENV = {
    **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_LFS_SKIP_SMUDGE": "1",
}


async def _git(*args: str, cwd: Path | None = None, limit: float = 300.0) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=_ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise SourceUnavailable(f"git {args[0]} took longer than {limit:.0f}s") from None
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        message = stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit {process.returncode}"
        if (
            "not found" in detail
            or "Could not find remote branch" in detail
            or ("does not appear to be a git repository" in detail)
        ):
            raise InvalidSource(f"git {args[0]} failed: {detail}")
        raise SourceUnavailable(f"git {args[0]} failed: {detail}")
    return stdout.decode("utf-8", "replace")


async def list_tags(url: str) -> list[str]:
    output = await _git("ls-remote", "--tags", "--refs", url, limit=60)
    tags = []
    for line in output.splitlines():
        _sha, _, ref = line.partition("\t")
        if ref.startswith("refs/tags/"):
            tags.append(ref.removeprefix("refs/tags/"))
    return tags


async def clone(url: str, dest: Path, ref: str = "") -> None:
    """A depth-1 checkout of `ref` (branch, tag or commit), or of the default branch."""
    if ref and _SHA.match(ref):
        await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=True)
        await _git("init", "-q", cwd=dest)
        await _git("fetch", "-q", "--depth", "1", url, ref, cwd=dest)
        await _git("-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD", cwd=dest)
        return
    args = ["clone", "-q", "--depth", "1", "--single-branch", "--no-tags"]
    if ref:
        args += ["--branch", ref]
    await _git(*args, "--", url, str(dest))
