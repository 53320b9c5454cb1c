"""Shared fixtures: a faithful fake of search's IndexService over gRPC, settings, counters."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import itertools
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twinmcp.ingest.config import Settings
from twinmcp.ingest.documents import SnippetDraft, SourceConfig
from twinmcp.ingest.pipeline import DefaultDocuments
from twinmcp.ingest.server import start as start_ingest
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.search.v1 import index_pb2, index_pb2_grpc

CORPUS = Path(__file__).resolve().parents[3].parent / "shared/eval/corpus"


@dataclass
class FakeBuild:
    build_id: str
    library_id: str
    version: str
    base_version: str
    space: tuple[str, int]
    key: str
    make_default: bool
    library: index_pb2.LibraryMetadata
    docs: dict[str, tuple[str, list[index_pb2.IndexedSnippet]]] = field(default_factory=dict)
    state: str = "open"


@dataclass
class FakeVersion:
    docs: dict[str, tuple[str, list[index_pb2.IndexedSnippet]]]
    space: tuple[str, int]


class FakeIndex(index_pb2_grpc.IndexServiceServicer):
    """Keeps builds apart from published versions, as the real index must."""

    def __init__(self) -> None:
        self.builds: dict[str, FakeBuild] = {}
        self.versions: dict[str, dict[str, FakeVersion]] = {}
        self.defaults: dict[str, str] = {}
        self.calls: list[tuple[str, Any]] = []
        self.publishes: list[tuple[float, str, str, str]] = []  # time, library, version, build
        self.put_delay = 0.0
        # What search's screen would report at publish (snippets aimed at AI agents).
        self.withheld_snippets = 0
        self._ids = itertools.count(1)

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def published(self, library_id: str, version: str = "") -> FakeVersion:
        return self.versions[library_id][version or self.defaults[library_id]]

    def snippets(self, library_id: str, version: str = "") -> list[index_pb2.IndexedSnippet]:
        docs = self.published(library_id, version).docs
        return [s for path in sorted(docs) for s in docs[path][1]]

    async def BeginBuild(self, request: Any, context: Any) -> Any:
        self.calls.append(("BeginBuild", request))
        for build in self.builds.values():
            if build.key and build.key == request.idempotency_key and build.state == "open":
                return index_pb2.BeginBuildResponse(
                    build_id=build.build_id, completed_paths=sorted(build.docs)
                )
        build_id = f"b{next(self._ids)}"
        self.builds[build_id] = FakeBuild(
            build_id,
            request.library.library_id,
            request.version,
            request.base_version,
            (request.embedding.model, request.embedding.dimension),
            request.idempotency_key,
            request.make_default,
            request.library,
        )
        return index_pb2.BeginBuildResponse(build_id=build_id)

    def _open(self, build_id: str, context: Any) -> FakeBuild:
        build = self.builds.get(build_id)
        if build is None or build.state != "open":
            raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, f"build {build_id} is not open")
        return build

    async def PutDocument(self, request: Any, context: Any) -> Any:
        self.calls.append(("PutDocument", request))
        if self.put_delay:
            await asyncio.sleep(self.put_delay)
        try:
            build = self._open(request.build_id, context)
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        for item in request.snippets:
            if build.space[1] and len(item.embedding) != build.space[1]:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "embedding dimension")
        build.docs[request.path] = (request.content_hash, list(request.snippets))
        return index_pb2.PutDocumentResponse(snippet_count=len(request.snippets))

    async def CopyDocuments(self, request: Any, context: Any) -> Any:
        self.calls.append(("CopyDocuments", request))
        try:
            build = self._open(request.build_id, context)
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        base = self.versions.get(build.library_id, {}).get(build.base_version)
        if base is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no base version")
        assert base is not None
        if base.space != build.space:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "embedding spaces differ")
        snippets = 0
        for path in request.paths:
            build.docs[path] = base.docs[path]
            snippets += len(base.docs[path][1])
        return index_pb2.CopyDocumentsResponse(
            document_count=len(request.paths), snippet_count=snippets
        )

    async def ListDocumentHashes(self, request: Any, context: Any) -> Any:
        self.calls.append(("ListDocumentHashes", request))
        versions = self.versions.get(request.library_id)
        version = request.version or self.defaults.get(request.library_id, "")
        if not versions or version not in versions:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such library")
        assert versions is not None
        published = versions[version]
        return index_pb2.ListDocumentHashesResponse(
            version=version,
            documents=[
                index_pb2.DocumentHash(path=p, content_hash=h)
                for p, (h, _) in sorted(published.docs.items())
            ],
            embedding=index_pb2.EmbeddingSpace(
                model=published.space[0], dimension=published.space[1]
            ),
        )

    async def PublishBuild(self, request: Any, context: Any) -> Any:
        self.calls.append(("PublishBuild", request))
        try:
            build = self._open(request.build_id, context)
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        build.state = "published"
        self.versions.setdefault(build.library_id, {})[build.version] = FakeVersion(
            dict(build.docs), build.space
        )
        if build.make_default or build.library_id not in self.defaults:
            self.defaults[build.library_id] = build.version
        self.publishes.append((time.time(), build.library_id, build.version, build.build_id))
        total = sum(len(s) for _, s in build.docs.values())
        return index_pb2.PublishBuildResponse(
            library_id=build.library_id,
            version=build.version,
            snippet_count=total,
            withheld_snippet_count=self.withheld_snippets,
        )

    async def ImportCatalog(self, request: Any, context: Any) -> Any:
        self.calls.append(("ImportCatalog", request))
        return index_pb2.ImportCatalogResponse(imported=len(request.entries))

    async def DeleteLibrary(self, request: Any, context: Any) -> Any:
        self.calls.append(("DeleteLibrary", request))
        self.versions.pop(request.library_id, None)
        self.defaults.pop(request.library_id, None)
        return index_pb2.DeleteLibraryResponse()

    async def AbortBuild(self, request: Any, context: Any) -> Any:
        self.calls.append(("AbortBuild", request))
        build = self.builds.get(request.build_id)
        if build is not None and build.state == "open":
            build.state = "aborted"
        return index_pb2.AbortBuildResponse()


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        self.code = code
        self.message = message


@pytest.fixture
async def fake_index() -> AsyncIterator[tuple[FakeIndex, str]]:
    fake = FakeIndex()
    server = grpc.aio.server()
    index_pb2_grpc.add_IndexServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop(0)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(search_addr: str, **overrides: str) -> Settings:
        env = {
            "TWINMCP_DATA_DIR": str(tmp_path / "data"),
            "SEARCH_ADDR": search_addr,
            "INGEST_GRPC_PORT": "0",
            "INGEST_METRICS_PORT": "-1",
            "INGEST_WORKERS": "1",
            "INGEST_POLL_SECONDS": "0.05",
            "EMBEDDING_PROVIDER": "none",
            "INGEST_ALLOW_PRIVATE_NETWORKS": "true",
            "INGEST_ENRICH_MODEL": "off",
            # Local sources are read only under these: the test's folder and the eval corpus.
            "INGEST_LOCAL_ROOTS": os.pathsep.join([str(tmp_path), str(CORPUS)]),
        }
        env.update(overrides)
        return Settings.from_env(env)

    return make


class CountingDocuments(DefaultDocuments):
    """The real document processing, counting how often documents are parsed."""

    def __init__(self) -> None:
        self.parsed: list[str] = []

    def parse(self, root: Path, path: str, base_url: str) -> list[SnippetDraft]:
        self.parsed.append(path)
        return super().parse(root, path, base_url)

    def select(self, root: Path, config: SourceConfig) -> list[str]:
        return super().select(root, config)


class CountingEmbedder:
    """Deterministic vectors from a hash of the text; counts texts embedded."""

    model = "test-hash-embedder"
    dimension = 8

    def __init__(self) -> None:
        self.texts = 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += len(texts)
        out = []
        for text in texts:
            digest = hashlib.sha256(text.encode()).digest()
            vector = [b / 255 + 0.01 for b in digest[:8]]
            norm = sum(x * x for x in vector) ** 0.5
            out.append([x / norm for x in vector])
        return out


async def wait_until(check: Callable[[], Any], limit: float = 60.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + limit
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {limit}s")
        await asyncio.sleep(interval)


@dataclass
class Harness:
    """A real ingest server (start(settings)) talking to the fake index."""

    fake: FakeIndex
    server: Any
    stub: Any
    documents: CountingDocuments
    embedder: CountingEmbedder | None
    channel: grpc.aio.Channel
    settings: Settings

    async def submit(self, source: str, **fields: Any) -> Any:
        reply = await self.stub.SubmitSource(
            ingest_pb2.SubmitSourceRequest(source=source, **fields), timeout=10
        )
        return reply.job

    async def finish(self, job_id: str, limit: float = 90.0) -> Any:
        async def done() -> Any:
            job = (await self.stub.GetJob(ingest_pb2.GetJobRequest(job_id=job_id), timeout=5)).job
            return job if job.state >= ingest_pb2.JOB_STATE_SUCCEEDED else None

        return await wait_until(done, limit=limit)

    async def ingest(self, source: str, **fields: Any) -> Any:
        job = await self.submit(source, **fields)
        return await self.finish(job.job_id)


@pytest.fixture
async def harness(
    fake_index: tuple[FakeIndex, str], make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Harness] = []

    async def make(*, with_embedder: bool = True, **env: str) -> Harness:
        fake, address = fake_index
        settings = make_settings(address, **env)
        documents = CountingDocuments()
        embedder = CountingEmbedder() if with_embedder else None
        chosen: Any = embedder if with_embedder else True
        server = await start_ingest(settings, documents=documents, embedder=chosen)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        harness = Harness(fake, server, stub, documents, embedder, channel, settings)
        started.append(harness)
        return harness

    yield make
    for item in started:
        await item.channel.close()
        await item.server.stop()


@dataclass
class GitHttpsServer:
    """Git's smart HTTP protocol (git http-backend) over TLS on loopback, recording requests."""

    base_url: str
    ca_file: Path
    root: Path
    requests: list[str] = field(default_factory=list)
    redirect_to: str = ""

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def publish(self, source: Path, name: str, tag: str = "") -> str:
        """Commits the files of `source` (and tags them) as the repository `name`; its URL."""
        work = self.root.parent / f"work-{self.root.name}-{name.replace('/', '-')}"
        shutil.copytree(source, work)
        env = {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@e",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e",
            "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": "/usr/bin:/bin",
            "HOME": str(work.parent),
        }
        steps = [["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "docs"]]
        if tag:
            steps.append(["tag", tag])
        steps.append(["clone", "-q", "--bare", str(work), str(self.root / name)])
        for args in steps:
            subprocess.run(["git", *args], cwd=work, env=env, check=True)
        return self.url(name)


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 that is its own CA; (cert, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
async def git_https(tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    """Starts git https servers on loopback; repositories are bare folders under `root`."""
    folder = tmp_path / "git-https"
    folder.mkdir()
    cert_file, key_file = _self_signed_certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    servers: list[TestServer] = []

    async def start() -> GitHttpsServer:
        root = folder / f"repos{len(servers)}"
        root.mkdir()
        state = GitHttpsServer("", cert_file, root)

        async def backend(request: web.Request) -> web.StreamResponse:
            state.requests.append(request.path_qs)
            if state.redirect_to:
                raise web.HTTPMovedPermanently(state.redirect_to + request.path_qs)
            body = await request.read()
            env = {
                "PATH": "/usr/bin:/bin",
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": request.method,
                "PATH_INFO": request.path,
                "QUERY_STRING": request.query_string,
                "CONTENT_TYPE": request.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": "127.0.0.1",
            }
            if "Content-Encoding" in request.headers:
                env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
            if "Git-Protocol" in request.headers:
                env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
            process = await asyncio.create_subprocess_exec(
                "git",
                "http-backend",
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            output, _ = await asyncio.wait_for(process.communicate(body), 30)
            head, _, payload = output.partition(b"\r\n\r\n")
            status, headers = 200, {}
            for line in head.decode().splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers[key] = value.strip()
            return web.Response(status=status, body=payload, headers=headers)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", backend)
        server = TestServer(app, host="127.0.0.1", scheme="https")
        await server.start_server(ssl=context)
        servers.append(server)
        state.base_url = f"https://localhost:{server.port}"
        return state

    yield start
    for server in servers:
        await server.close()
