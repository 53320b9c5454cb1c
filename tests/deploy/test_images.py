"""The Dockerfiles, the container health check script and docker-compose.yml."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from concurrent import futures
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from twinmcp.runtime.ports import free_port

SERVICES = ("gateway", "auth", "search", "ingest")
PORTS = {
    "gateway": {3000},
    "auth": {50051, 9101},
    "search": {50052, 9102},
    "ingest": {50053, 9103},
}
PINNED_PYTHON = re.compile(r"^python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$")
DOCKERFILES = [f"services/{s}/Dockerfile" for s in SERVICES] + ["deploy/backup/Dockerfile"]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


def lib_of_import(repo: Path, module: str) -> str | None:
    """The libs/ folder that provides `twinmcp.<part>...`, if a shared library does."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[2] == "v1":
        return "libs/proto"
    if (repo / "libs" / parts[1] / "src" / "twinmcp" / parts[1]).is_dir():
        return f"libs/{parts[1]}"
    return None


def needed_packages(repo: Path, service: str) -> set[str]:
    """The service's folder and every workspace library it declares or imports, transitively."""
    imports = re.compile(r"^\s*(?:from|import)\s+(twinmcp\.[\w.]+)", re.MULTILINE)
    needed = {f"services/{service}"}
    pending = [f"services/{service}"]
    while pending:
        folder = repo / pending.pop()
        declared = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        found = {
            f"libs/{dep.split('[')[0].removeprefix('twinmcp-')}"
            for dep in declared.get("dependencies", [])
            if dep.startswith("twinmcp-")
        }
        for source in (folder / "src").rglob("*.py"):
            for module in imports.findall(source.read_text()):
                lib = lib_of_import(repo, module)
                if lib is not None:
                    found.add(lib)
        for lib in found - needed:
            needed.add(lib)
            pending.append(lib)
    return needed


def installed_distributions(repo: Path, service: str) -> set[str]:
    """The third-party distributions pip installs into the service's image: what its workspace
    packages declare and, transitively, what those require (this virtualenv's metadata, whose
    versions are the lock's; markers for this Python, which is the image's)."""
    pending: list[tuple[Requirement, str]] = []
    for folder in needed_packages(repo, service):
        declared = tomllib.loads((repo / folder / "pyproject.toml").read_text())["project"]
        pending += [(Requirement(d), "") for d in declared.get("dependencies", [])]
    found: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extra = pending.pop()
        name = canonicalize_name(requirement.name)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        if name.startswith("twinmcp-") or (name, frozenset(requirement.extras)) in seen:
            continue  # the workspace's own packages are needed_packages' business
        seen.add((name, frozenset(requirement.extras)))
        found.add(name)
        for required in metadata.requires(name) or []:
            for wanted in ("", *requirement.extras):
                pending.append((Requirement(required), wanted))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_grpc_services_install_the_grpc_server_side(repo: Path, service: str) -> None:
    is_grpc_server = service != "gateway"
    installed = installed_distributions(repo, service)
    assert ("libs/grpcserver" in needed_packages(repo, service)) == is_grpc_server
    # Reflection and the Prometheus scrape server are libs/grpcserver's alone; the gateway
    # serves its /metrics through aiohttp (prometheus-client's registry, declared by it).
    assert ("grpcio-reflection" in installed) == is_grpc_server, sorted(installed)
    # The health service's stubs stay in every image: the gateway asks auth, search and ingest
    # for their health (/ready), and runtime.ports waits on it.
    assert "grpcio-health-checking" in installed
    assert {"grpcio", "protobuf"} <= installed


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfile_passes_hadolint(
    repo: Path, venv_tool: Callable[[str], Path], dockerfile: str
) -> None:
    done = subprocess.run(
        [venv_tool("hadolint"), "--no-color", "--failure-threshold", "info", dockerfile],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_image_installs_only_its_own_service_and_the_libraries_it_uses(
    repo: Path, service: str
) -> None:
    steps = instructions(repo / "services" / service / "Dockerfile")
    copied = {
        args.split()[0]
        for word, args in steps
        if word == "COPY" and args.split()[0].startswith(("libs/", "services/"))
    }
    [install] = [args for word, args in steps if word == "RUN" and "pip install" in args]
    installed = {p.removeprefix("./") for p in install.split() if p.startswith("./")}
    needed = needed_packages(repo, service)
    assert copied == needed, f"{service} copies {sorted(copied)}, needs {sorted(needed)}"
    assert installed == needed, f"{service} installs {sorted(installed)}, needs {sorted(needed)}"
    # Third-party versions are the lock's: the workspace's editable lines are dropped from it.
    assert "-c /tmp/constraints.txt" in install
    assert any("grep -v '^-e' requirements/lock.txt > /tmp/constraints.txt" in a for _, a in steps)


@pytest.mark.parametrize("service", SERVICES)
def test_image_runs_its_service_as_non_root_from_a_pinned_base(repo: Path, service: str) -> None:
    steps = instructions(repo / "services" / service / "Dockerfile")
    bases = [args.split()[0] for word, args in steps if word == "FROM"]
    assert len(bases) == 2, "a build stage and a runtime stage"
    assert all(PINNED_PYTHON.match(b) for b in bases), bases
    users = [args for word, args in steps if word == "USER"]
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, f"the last USER must be a numeric non-root id: {uid}"
    [cmd] = [args for word, args in steps if word == "CMD"]
    assert json.loads(cmd) == ["python", "-m", f"twinmcp.{service}"]
    exposed = {int(p) for word, args in steps if word == "EXPOSE" for p in args.split()}
    assert exposed == PORTS[service]
    assert any(word == "HEALTHCHECK" for word, _ in steps)


def test_no_file_of_the_deployment_names_a_registry_host(repo: Path) -> None:
    # Checked by shape, so this test names no registry either: no package-index flags, and no
    # image reference whose first path segment is a host (has a dot or a port).
    index_flags = re.compile(r"--(?:extra[-_])?index[-_]url|--find[-_]links")
    image_refs = re.compile(r"^\s*(?:FROM(?:\s+--\S+)*|-?\s*image:)\s+[\"']?([^\s\"']+)", re.M)

    def names_a_registry(text: str) -> bool:
        if index_flags.search(text):
            return True
        for ref in image_refs.findall(text):
            first, slash, _ = ref.partition("/")
            if slash and ("." in first or ":" in first) and not first.startswith("$"):
                return True
        return False

    paths = [
        *DOCKERFILES,
        ".dockerignore",
        "docker-compose.yml",
        "render.yaml",
        "railway.json",
        ".github/workflows/ci.yml",
    ]
    files = [repo / p for p in paths] + [
        p for p in (repo / "deploy").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    offenders = [str(f.relative_to(repo)) for f in files if names_a_registry(f.read_text())]
    assert offenders == []


# --- the health check script ------------------------------------------------------------


def run_healthcheck(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(repo / "deploy/docker/healthcheck.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def grpc_health() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, servicer
    server.stop(grace=None)


def test_health_check_passes_while_the_grpc_server_is_serving_and_fails_when_draining(
    repo: Path, grpc_health: tuple[int, health.HealthServicer]
) -> None:
    port, servicer = grpc_health
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    serving = run_healthcheck(repo, "grpc", "127.0.0.1:$PROBE_PORT", PROBE_PORT=str(port))
    assert serving.returncode == 0, serving.stderr
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    draining = run_healthcheck(repo, "grpc", f"127.0.0.1:{port}")
    assert draining.returncode == 1
    assert "NOT_SERVING" in draining.stderr


def test_health_check_fails_when_nothing_listens_or_a_variable_is_unset(repo: Path) -> None:
    refused = run_healthcheck(repo, "grpc", f"127.0.0.1:{free_port()}")
    assert refused.returncode == 1
    assert "UNAVAILABLE" in refused.stderr
    unset = run_healthcheck(repo, "grpc", "127.0.0.1:$TWINMCP_UNSET_PORT_FOR_TEST")
    assert unset.returncode == 2
    assert "TWINMCP_UNSET_PORT_FOR_TEST" in unset.stderr


class ReadyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_health_check_follows_the_gateway_http_status(repo: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ReadyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = str(server.server_address[1])
        ready = run_healthcheck(repo, "http", "http://127.0.0.1:$PORT/ready", PORT=port)
        assert ready.returncode == 0, ready.stderr
        draining = run_healthcheck(repo, "http", f"http://127.0.0.1:{port}/draining")
        assert draining.returncode == 1
        assert "HTTP 503" in draining.stderr
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- docker-compose.yml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose(repo: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo / "docker-compose.yml").read_text())
    return loaded


def test_compose_file_matches_the_compose_specification(
    repo: Path, venv_tool: Callable[[str], Path], tmp_path: Path
) -> None:
    checker = venv_tool("check-jsonschema")
    good = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", repo / "docker-compose.yml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    # The same check catches a mistake: a condition compose does not know.
    broken = tmp_path / "docker-compose.yml"
    text = (repo / "docker-compose.yml").read_text()
    broken.write_text(text.replace("condition: service_healthy", "condition: service_ready", 1))
    bad = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", broken],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0


def test_compose_runs_the_whole_stack_behind_nginx(compose: dict[str, Any], repo: Path) -> None:
    services = compose["services"]
    assert {
        "postgres",
        "redis",
        "minio",
        "nginx",
        "ingest-worker",
        *SERVICES,
    } <= services.keys()
    for name, service in services.items():
        if "build" in service:
            assert service["build"]["context"] == "."
            assert (repo / service["build"]["dockerfile"]).is_file(), name
    assert services["gateway"]["deploy"]["replicas"] >= 2
    assert "ports" not in services["gateway"], "only NGINX is published"
    assert services["ingest"]["environment"]["INGEST_WORKERS"] == 0
    assert services["ingest-worker"]["command"] == ["python", "-m", "twinmcp.ingest.worker"]
    for volume in services["nginx"]["volumes"]:
        source = volume.split(":")[0]
        assert (repo / source).is_file(), source
    for service in services.values():
        for env_file in service.get("env_file", []):
            assert env_file == {"path": ".env", "required": False}


def test_compose_services_start_only_after_their_dependencies_are_healthy(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, how in service.get("depends_on", {}).items():
            condition = how["condition"]
            if condition == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", dependency
                continue
            assert condition == "service_healthy", f"{name} -> {dependency}"
            check = services[dependency].get("healthcheck", {})
            assert check.get("test") and not check.get("disable"), dependency
        if name not in ("minio-init", "ingest-worker"):
            assert service["healthcheck"]["test"], name


def test_compose_grpc_addresses_name_the_services_and_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ports = {
        "auth": services["auth"]["environment"]["AUTH_GRPC_PORT"],
        "search": services["search"]["environment"]["SEARCH_GRPC_PORT"],
        "ingest": services["ingest"]["environment"]["INGEST_GRPC_PORT"],
    }
    for name in ("gateway", "ingest", "ingest-worker"):
        env = services[name]["environment"]
        for target, port in ports.items():
            assert env[f"{target.upper()}_ADDR"] == f"dns:///{target}:{port}", name
    for name in ("auth", "search", "ingest"):
        check = services[name]["healthcheck"]["test"]
        assert check[-1] == f"127.0.0.1:{ports[name]}"


# --- .dockerignore ------------------------------------------------------------------------


def ignore_rules(repo: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per .dockerignore line, in order (Docker: the last match wins)."""
    rules = []
    for line in (repo / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        is_exception = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        parts = []
        for piece in re.split(r"(\*\*/?|\*|\?)", pattern):
            if piece in ("**", "**/"):
                parts.append("(?:.*/)?" if piece == "**/" else ".*")
            elif piece == "*":
                parts.append("[^/]*")
            elif piece == "?":
                parts.append("[^/]")
            else:
                parts.append(re.escape(piece))
        # A pattern that names a folder covers everything below it.
        rules.append((is_exception, re.compile("".join(parts) + "(?:/.*)?")))
    return rules


def is_in_context(rules: list[tuple[bool, re.Pattern[str]]], path: str) -> bool:
    included = True
    for is_exception, regex in rules:
        if regex.fullmatch(path):
            included = is_exception
    return included


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerignore_lets_in_what_the_dockerfile_copies_and_keeps_tests_out(
    repo: Path, dockerfile: str
) -> None:
    rules = ignore_rules(repo)
    sources = [
        source
        for word, args in instructions(repo / dockerfile)
        if word == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    ]
    assert sources
    for source in sources:
        path = repo / source
        if path.is_file():
            assert is_in_context(rules, source), f"{source} is ignored by .dockerignore"
            continue
        files = [p.relative_to(repo).as_posix() for p in path.rglob("*") if p.is_file()]
        wanted = [f for f in files if f.endswith(("pyproject.toml", ".py", ".mako", ".ini"))]
        wanted = [f for f in wanted if "/tests/" not in f and "__pycache__" not in f]
        assert wanted, source
        for file in wanted:
            assert is_in_context(rules, file), f"{file} is ignored by .dockerignore"
        for file in files:
            if "/tests/" in file or "__pycache__" in file:
                assert not is_in_context(rules, file), f"{file} should stay out of the image"
    assert not is_in_context(rules, ".env")
    assert not is_in_context(rules, ".venv/bin/python")
