"""GitHub through its REST API: repository facts, tags and tarballs; rate-limit aware."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from twinmcp.ingest.errors import InvalidSource, SourceUnavailable
from twinmcp.ingest.sources import check_git_ref
from twinmcp.runtime.settings import Secret

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")


def repository_path(owner: str, repo: str, *tail: str) -> str:
    """The API path of a repository; names that could climb to another API path are refused."""
    if not (_NAME.match(owner) and _NAME.match(repo)):
        raise InvalidSource(f"{owner}/{repo} is not a GitHub repository name; use owner/repo")
    return "/".join([f"/repos/{owner}/{repo}", *tail])


@dataclass(frozen=True)
class Repository:
    full_name: str
    description: str
    default_branch: str
    stars: int


class GitHubClient:
    """Waits out rate limits (X-RateLimit-Reset, Retry-After) up to `max_wait` seconds."""

    def __init__(
        self,
        api_url: str,
        token: Secret | None,
        *,
        max_wait: float = 120.0,
        max_download_bytes: int = 200 * 1024 * 1024,
        timeout: float = 120.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "TwinMCP-ingest",
        }
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get()}"
        self.max_wait = max_wait
        self.max_download_bytes = max_download_bytes
        self._session = aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        )
        self._not_before = 0.0

    async def close(self) -> None:
        await self._session.close()

    async def repository(self, owner: str, repo: str) -> Repository:
        data = await self._json(repository_path(owner, repo))
        return Repository(
            full_name=str(data.get("full_name", f"{owner}/{repo}")),
            description=str(data.get("description") or ""),
            default_branch=str(data.get("default_branch") or "main"),
            stars=int(data.get("stargazers_count") or 0),
        )

    async def tags(self, owner: str, repo: str) -> list[str]:
        data = await self._json(repository_path(owner, repo, "tags?per_page=100"))
        return [str(item["name"]) for item in data if isinstance(item, dict) and "name" in item]

    async def download_tarball(self, owner: str, repo: str, ref: str, dest: Path) -> None:
        # A checked name cannot climb out of the path ('..'); quoting keeps '#' or '%' in it.
        tail = ["tarball", quote(check_git_ref(ref), safe="/")] if ref else ["tarball"]
        path = repository_path(owner, repo, *tail)
        async with self._request(path) as response:
            size = 0
            with dest.open("wb") as out:
                async for chunk in response.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > self.max_download_bytes:
                        raise InvalidSource(
                            f"{owner}/{repo}@{ref or 'default'} is larger than "
                            f"{self.max_download_bytes} bytes; refused"
                        )
                    out.write(chunk)

    async def _json(self, path: str) -> Any:
        async with self._request(path) as response:
            return await response.json(content_type=None)

    def _request(self, path: str) -> _Request:
        return _Request(self, path)

    async def _open(self, path: str) -> aiohttp.ClientResponse:
        for _attempt in range(6):
            wait = self._not_before - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                response = await self._session.get(self.api_url + path)
            except aiohttp.ClientError as exc:
                raise SourceUnavailable(f"GitHub API unreachable: {exc}") from exc
            self._note_limits(response)
            if response.status == 200:
                return response
            body = (await response.text())[:300]
            response.release()
            if response.status == 404:
                raise InvalidSource(
                    f"GitHub has no {path.split('/repos/', 1)[-1]!r}; check the repository "
                    "and ref (private repositories need GITHUB_TOKEN)"
                )
            if response.status in {403, 429} and self._is_rate_limited(response):
                delay = self._not_before - time.time()
                if delay > self.max_wait:
                    raise SourceUnavailable(
                        f"GitHub rate limit reached; it resets in {delay:.0f}s. "
                        "Set GITHUB_TOKEN for a higher limit or retry later"
                    )
                logger.warning("GitHub rate limited; waiting %.1fs", max(delay, 0))
                continue
            if response.status >= 500:
                self._not_before = time.time() + 1.0
                continue
            raise InvalidSource(f"GitHub answered {response.status} for {path}: {body}")
        raise SourceUnavailable(f"GitHub kept failing for {path}; retry later")

    def _is_rate_limited(self, response: aiohttp.ClientResponse) -> bool:
        return (
            "Retry-After" in response.headers
            or response.headers.get("X-RateLimit-Remaining") == "0"
            or response.status == 429
        )

    def _note_limits(self, response: aiohttp.ClientResponse) -> None:
        retry_after = response.headers.get("Retry-After")
        if retry_after and retry_after.strip().isdigit():
            self._not_before = max(self._not_before, time.time() + int(retry_after))
            return
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining == "0" and reset and reset.isdigit():
            self._not_before = max(self._not_before, float(reset))
        elif response.status == 429:
            self._not_before = max(self._not_before, time.time() + 1.0)


class _Request:
    def __init__(self, client: GitHubClient, path: str) -> None:
        self._client = client
        self._path = path
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        self._response = await self._client._open(self._path)
        return self._response

    async def __aexit__(self, *_exc: object) -> None:
        if self._response is not None:
            self._response.release()
