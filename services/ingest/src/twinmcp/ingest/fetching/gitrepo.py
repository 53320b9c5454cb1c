"""Shallow git clones and tag listings over https only, pinned to checked public addresses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from twinmcp.ingest.config import Settings
from twinmcp.ingest.errors import InvalidSource, SourceUnavailable
from twinmcp.ingest.netguard import resolve_checked
from twinmcp.ingest.sources import check_git_ref, check_git_url

logger = logging.getLogger(__name__)

_SHA_DIGITS = frozenset("0123456789abcdef")
# Configuration given on every command line. Git reads no system or user configuration (see
# _environment), so these are the only settings in force besides git's built-in defaults.
_CONFIG = (
    # https is the only transport: no ext::, file://, git://, ssh:// from a URL, submodule,
    # alternate or redirect, whatever a repository or server says.
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.file.allow=never",
    # Redirects would go to a host nobody checked, after git resolves it on its own.
    "http.followRedirects=false",
    # A server that trickles bytes fails the command instead of holding a worker.
    "http.lowSpeedLimit=1024",
    "http.lowSpeedTime=20",
    "credential.helper=",
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "transfer.bundleURI=false",
    "advice.detachedHead=false",
)
_ENVIRONMENT = {
    "LANG": "C",
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_ALLOW_PROTOCOL": "https",
    "GIT_PROTOCOL_FROM_USER": "0",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_LFS_SKIP_SMUDGE": "1",
}


@dataclass(frozen=True)
class GitAccess:
    """Which hosts git may reach and how long it may take."""

    allow_private: bool = False  # loopback and private hosts: tests and trusted networks only
    ca_file: Path | None = None  # the only CAs trusted when set (a private forge, test servers)
    connect_timeout: float = 10.0
    list_timeout: float = 30.0
    clone_timeout: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GitAccess:
        return cls(allow_private=settings.allow_private_networks, ca_file=settings.git_ca_file)


@dataclass(frozen=True)
class Remote:
    """An https repository URL and the checked addresses git is pinned to."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def is_literal_address(self) -> bool:
        return self.host in self.addresses


async def check_remote(url: str, access: GitAccess) -> Remote:
    """Refuses non-https URLs and private addresses, and fails fast on an unreachable host."""
    check_git_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    addresses = await resolve_checked(host, port, allow_private=access.allow_private)
    if not addresses:
        raise SourceUnavailable(f"{host} has no address; check the repository URL")
    # Git has no connect timeout of its own (curl waits up to 300 s on a silent address).
    reachable = await _first_reachable(addresses, port, access.connect_timeout)
    if reachable is None:
        raise SourceUnavailable(
            f"cannot connect to {host} port {port} within {access.connect_timeout:.0f}s; "
            "check the repository URL or retry later"
        )
    return Remote(url, host, port, tuple(addresses))


async def _first_reachable(addresses: Sequence[str], port: int, limit: float) -> str | None:
    for address in addresses:
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), limit)
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return address
    return None


def git_command(args: Sequence[str], access: GitAccess, remote: Remote | None = None) -> list[str]:
    """The argv of one git invocation: fixed configuration first, then `args` as given."""
    config = list(_CONFIG)
    if access.ca_file is not None:
        config.append(f"http.sslCAInfo={access.ca_file}")
    if remote is not None and not remote.is_literal_address:
        # curl connects to the addresses checked above instead of resolving the name again,
        # so a DNS answer that changes between the check and the connection is never used.
        pinned = ",".join(f"[{a}]" if ":" in a else a for a in remote.addresses)
        config.append(f"http.curloptResolve={remote.host}:{remote.port}:{pinned}")
    command = ["git"]
    for item in config:
        command += ["-c", item]
    return [*command, *args]


def _environment(home: str) -> dict[str, str]:
    # Nothing of the service's own environment but PATH: no HOME with .gitconfig, ssh keys or
    # credentials, no proxies, no GIT_* variables an operator's shell may have set.
    return {**_ENVIRONMENT, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home}


async def _git(
    args: Sequence[str],
    access: GitAccess,
    *,
    remote: Remote | None = None,
    cwd: Path | None = None,
    limit: float,
) -> str:
    verb = args[0]
    with tempfile.TemporaryDirectory(prefix="twinmcp-git-home-") as home:
        process = await asyncio.create_subprocess_exec(
            *git_command(args, access, remote),
            cwd=cwd,
            env=_environment(home),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), limit)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise SourceUnavailable(f"git {verb} took longer than {limit:.0f}s") from None
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
    if process.returncode != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit {process.returncode}"
        raise _failure(verb, detail)
    return stdout.decode("utf-8", "replace")


def _failure(verb: str, detail: str) -> Exception:
    if "returned error: 30" in detail or "redirect" in detail.lower():
        return InvalidSource(
            f"git {verb} failed: the server redirected ({detail}); redirects are not followed, "
            "give the repository's final https URL"
        )
    if (
        "not found" in detail
        or "Could not find remote branch" in detail
        or "does not appear to be a git repository" in detail
        or "returned error: 4" in detail
    ):
        return InvalidSource(f"git {verb} failed: {detail}")
    return SourceUnavailable(f"git {verb} failed: {detail}")


def ls_remote_args(url: str) -> list[str]:
    return ["ls-remote", "--tags", "--refs", "--", url]


def fetch_args(url: str, commit: str) -> list[str]:
    return [
        "fetch",
        "-q",
        "--depth",
        "1",
        "--no-tags",
        "--no-recurse-submodules",
        "--",
        url,
        commit,
    ]


def clone_args(url: str, dest: Path, ref: str) -> list[str]:
    branch = [f"--branch={ref}"] if ref else []
    options = ["-q", "--template=", "--depth", "1", "--single-branch", "--no-tags"]
    return ["clone", *options, "--no-recurse-submodules", *branch, "--", url, str(dest)]


def is_commit(ref: str) -> bool:
    return len(ref) >= 7 and set(ref) <= _SHA_DIGITS


async def list_tags(url: str, access: GitAccess | None = None) -> list[str]:
    """The tag names of the repository at `url`."""
    access = access or GitAccess()
    remote = await check_remote(url, access)
    output = await _git(
        ls_remote_args(remote.url), access, remote=remote, limit=access.list_timeout
    )
    tags = []
    for line in output.splitlines():
        _sha, _, ref = line.partition("\t")
        if ref.startswith("refs/tags/"):
            tags.append(ref.removeprefix("refs/tags/"))
    return tags


async def clone(url: str, dest: Path, ref: str = "", access: GitAccess | None = None) -> None:
    """A depth-1 checkout of `ref` (branch, tag or commit), or of the default branch."""
    access = access or GitAccess()
    check_git_ref(ref)
    remote = await check_remote(url, access)
    limit = access.clone_timeout
    if ref and is_commit(ref):
        await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=True)
        await _git(["init", "-q", "--template=", "."], access, cwd=dest, limit=60)
        await _git(fetch_args(remote.url, ref), access, remote=remote, cwd=dest, limit=limit)
        await _git(["checkout", "-q", "--detach", "FETCH_HEAD"], access, cwd=dest, limit=60)
        return
    await _git(clone_args(remote.url, dest, ref), access, remote=remote, limit=limit)
