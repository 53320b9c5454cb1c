"""Website crawls and llms.txt sources, saved as files for the document parser."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from bs4 import BeautifulSoup
from twinmcp.ingest.errors import HostileInput, IngestError, InvalidSource
from twinmcp.ingest.netguard import USER_AGENT, SafeHttp
from twinmcp.ingest.sources import slug

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown", "application/octet-stream")


@dataclass
class WebResult:
    pages: int = 0
    notes: list[str] = field(default_factory=list)


def _scope(start: str) -> tuple[str, str]:
    parts = urlsplit(start)
    base = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return parts.netloc.lower(), base


def _in_scope(url: str, host: str, base: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in {"http", "https"}
        and parts.netloc.lower() == host
        and (parts.path or "/").startswith(base)
    )


def _local_path(url: str, suffix: str) -> str:
    """A safe relative file path for a URL: no '..', always under the root."""
    path = urlsplit(url).path
    parts = [
        slug(p) if p in {"..", "."} else re.sub(r"[^\w.-]", "_", p)
        for p in PurePosixPath(path).parts
        if p != "/"
    ]
    if not parts or path.endswith("/"):
        parts.append("index")
    name = parts[-1]
    if not name.endswith(suffix):
        parts[-1] = name.removesuffix(".html").removesuffix(".htm") + suffix
    return "/".join(parts)


async def _robots(http: SafeHttp, start: str) -> RobotFileParser:
    parser = RobotFileParser()
    parts = urlsplit(start)
    try:
        fetched = await http.get(f"{parts.scheme}://{parts.netloc}/robots.txt", max_bytes=512_000)
    except HostileInput:
        raise
    except IngestError:
        parser.parse([])
        return parser
    if fetched.status == 200:
        parser.parse(fetched.body.decode("utf-8", "replace").splitlines())
    elif fetched.status in {401, 403}:
        parser.parse(["User-agent: *", "Disallow: /"])
    else:
        parser.parse([])
    return parser


async def crawl(
    http: SafeHttp, start: str, dest: Path, *, max_pages: int, max_depth: int, max_bytes: int
) -> WebResult:
    """Breadth-first over same-host pages under the start path, honouring robots.txt."""
    await http.check_url(start)
    host, base = _scope(start)
    robots = await _robots(http, start)
    result = WebResult()
    queue: deque[tuple[str, int]] = deque([(urldefrag(start)[0], 0)])
    seen = {queue[0][0]}
    while queue and result.pages < max_pages:
        url, depth = queue.popleft()
        if not robots.can_fetch(USER_AGENT, url):
            result.notes.append(f"{url}: disallowed by robots.txt")
            continue
        try:
            fetched = await http.get(url, max_bytes=max_bytes, content_types=HTML_TYPES)
        except (InvalidSource, HostileInput) as exc:
            if url == start and result.pages == 0:
                raise
            result.notes.append(f"{url}: {exc}")
            continue
        if fetched.status != 200:
            if url == start:
                raise InvalidSource(f"{start} answered HTTP {fetched.status}")
            result.notes.append(f"{url}: HTTP {fetched.status}")
            continue
        if not _in_scope(fetched.url, host, base):
            result.notes.append(f"{url}: redirected out of scope to {fetched.url}")
            continue
        target = dest / _local_path(fetched.url, ".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(fetched.body)
        result.pages += 1
        if depth >= max_depth:
            continue
        soup = BeautifulSoup(fetched.body, "html.parser")
        for anchor in soup.find_all("a", href=True):
            link = urldefrag(urljoin(fetched.url, str(anchor["href"])))[0]
            if link not in seen and _in_scope(link, host, base):
                seen.add(link)
                queue.append((link, depth + 1))
    if result.pages == 0:
        raise InvalidSource(f"no HTML page could be fetched from {start}")
    return result


_MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


async def fetch_llms_txt(
    http: SafeHttp, url: str, dest: Path, *, max_pages: int, max_bytes: int
) -> WebResult:
    """llms.txt: the index plus linked .md pages on the same host; llms-full.txt: split pages."""
    fetched = await http.get(url, max_bytes=max_bytes, content_types=TEXT_TYPES)
    if fetched.status != 200:
        raise InvalidSource(f"{url} answered HTTP {fetched.status}")
    text = fetched.body.decode("utf-8", "replace")
    result = WebResult()
    await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=True)
    if urlsplit(url).path.endswith("llms-full.txt"):
        for index, page in enumerate(split_full_text(text), start=1):
            title = page.splitlines()[0].lstrip("# ").strip() if page.strip() else ""
            (dest / f"{index:04d}-{slug(title)[:60]}.md").write_text(page, encoding="utf-8")
            result.pages += 1
        return result
    (dest / "llms.md").write_text(text, encoding="utf-8")
    result.pages = 1
    host = urlsplit(fetched.url).netloc.lower()
    seen: set[str] = set()
    for match in _MD_LINK.finditer(text):
        link = urldefrag(urljoin(fetched.url, match.group(1)))[0]
        parts = urlsplit(link)
        if link in seen or parts.netloc.lower() != host or not parts.path.endswith(".md"):
            continue
        seen.add(link)
        if result.pages >= max_pages:
            result.notes.append(f"{link}: page limit reached")
            break
        try:
            linked = await http.get(link, max_bytes=max_bytes, content_types=TEXT_TYPES)
        except (InvalidSource, HostileInput) as exc:
            result.notes.append(f"{link}: {exc}")
            continue
        if linked.status != 200:
            result.notes.append(f"{link}: HTTP {linked.status}")
            continue
        target = dest / _local_path(linked.url, ".md")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(linked.body)
        result.pages += 1
    return result


def split_full_text(text: str) -> list[str]:
    """Pages of an llms-full.txt: each starts at a top-level '# ' heading outside code fences."""
    pages: list[list[str]] = [[]]
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and line.startswith("# ") and any(s.strip() for s in pages[-1]):
            pages.append([])
        pages[-1].append(line)
    return ["\n".join(p).strip() + "\n" for p in pages if any(s.strip() for s in p)]
