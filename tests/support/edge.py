"""The NGINX edge for tests: the renderer of deploy/nginx's local template, a running NGINX."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import ModuleType

import aiohttp

REPO = Path(__file__).resolve().parents[2]
RENDER_LOCAL = REPO / "deploy" / "nginx" / "render_local.py"


def load_render_local() -> ModuleType:
    """deploy/nginx/render_local.py (deploy/ is not a package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location("render_local", RENDER_LOCAL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.asynccontextmanager
async def running_nginx(
    nginx: str, upstreams: Sequence[str], port: int, prefix: Path, timeout: float = 15
) -> AsyncIterator[str]:
    """NGINX from the local template on 127.0.0.1:`port` in front of `upstreams` (host:port);
    yields its base URL once /nginx-health answers, and always stops it."""
    config = load_render_local().write(upstreams, port, prefix)
    process = await asyncio.create_subprocess_exec(
        nginx, "-p", str(prefix), "-e", "stderr", "-c", str(config)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(process, f"{url}/nginx-health", timeout)
        yield url
    finally:
        if process.returncode is None:
            # SIGQUIT: NGINX's graceful stop (finish the requests it has, then exit).
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGQUIT)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def _wait_healthy(process: asyncio.subprocess.Process, url: str, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"nginx exited with code {process.returncode}; see its stderr")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as reply:
                    if reply.status == 200:
                        return
            if loop.time() > deadline:
                raise TimeoutError(f"nginx did not answer {url} within {timeout}s")
            await asyncio.sleep(0.05)
