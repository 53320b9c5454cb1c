"""The CI workflow (actionlint and the workflow schema) and the Render and Railway configs."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = ".github/workflows/ci.yml"
SERVICES = ("gateway", "auth", "search", "ingest")


@pytest.fixture(scope="module")
def workflow(repo: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo / WORKFLOW).read_text())
    return loaded


def test_workflow_passes_actionlint(
    repo: Path, venv_tool: Callable[[str], Path], system_tool: Callable[[str, str], str]
) -> None:
    # actionlint checks the `run:` scripts too when shellcheck is on PATH.
    system_tool("shellcheck", "shellcheck")
    done = subprocess.run(
        [venv_tool("actionlint"), "-no-color", WORKFLOW],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_dependency_on_a_job_that_does_not_exist(
    repo: Path, venv_tool: Callable[[str], Path], tmp_path: Path
) -> None:
    broken = tmp_path / "ci.yml"
    text = (repo / WORKFLOW).read_text()
    broken.write_text(text.replace("needs: check\n", "needs: checks\n", 1))
    done = subprocess.run(
        [venv_tool("actionlint"), "-no-color", broken],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "checks" in done.stdout


def test_workflow_matches_the_github_workflow_schema(
    repo: Path, venv_tool: Callable[[str], Path]
) -> None:
    done = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", WORKFLOW],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def steps_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_every_action_is_pinned_to_a_commit(workflow: dict[str, Any]) -> None:
    uses = [step["uses"] for step in steps_of(workflow) if "uses" in step]
    assert uses
    for use in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use), use


def test_checks_run_lint_and_tests_against_postgresql_and_redis(workflow: dict[str, Any]) -> None:
    check = workflow["jobs"]["check"]
    runs = [step.get("run", "") for step in check["steps"]]
    assert "make lint" in runs and "make test" in runs
    assert check["services"]["postgres"]["ports"] == ["5432:5432"]
    assert check["services"]["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert check["services"]["redis"]["ports"] == ["6379:6379"]


def test_one_image_per_service_is_built_and_tagged_with_the_commit(
    repo: Path, workflow: dict[str, Any]
) -> None:
    images = workflow["jobs"]["images"]
    assert images["needs"] == "check"
    matrix = {
        entry["name"]: entry["dockerfile"] for entry in images["strategy"]["matrix"]["include"]
    }
    assert {name: f"services/{name}/Dockerfile" for name in SERVICES}.items() <= matrix.items()
    for dockerfile in matrix.values():
        assert (repo / dockerfile).is_file()
    naming = next(step for step in images["steps"] if step.get("id") == "image")["run"]
    assert "$GITHUB_SHA" in naming
    [build] = [s for s in images["steps"] if s.get("uses", "").startswith("docker/build-push")]
    assert build["with"]["tags"] == "${{ steps.image.outputs.ref }}"


def test_deploy_sets_every_image_and_waits_for_every_rollout_on_main(
    repo: Path, workflow: dict[str, Any]
) -> None:
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "images"
    assert "refs/heads/main" in deploy["if"]
    script = "\n".join(step.get("run", "") for step in deploy["steps"])
    deployments = [
        path.parent.name for path in (repo / "deploy/k8s/base").glob("*/deployment.yaml")
    ]
    assert len(deployments) == 5
    [set_loop] = re.findall(r"for svc in ([\w\- ]+); do\n\s+kubectl [^\n]*set image", script)
    assert sorted([*set_loop.split(), "ingest-worker"]) == sorted(deployments)
    assert "set image deployment/ingest-worker" in script
    [waited] = re.findall(r"for d in ([\w\- ]+); do\n\s+kubectl [^\n]*rollout status", script)
    assert sorted(waited.split()) == sorted(deployments)


# --- Render and Railway -------------------------------------------------------------------


def test_render_blueprint_wires_every_service_to_managed_postgres_and_redis(repo: Path) -> None:
    blueprint = yaml.safe_load((repo / "render.yaml").read_text())
    services = {s["name"]: s for s in blueprint["services"]}
    [database] = blueprint["databases"]
    redis = services["twinmcp-redis"]
    assert redis["type"] == "keyvalue"
    assert services["twinmcp-gateway"]["type"] == "web"
    assert services["twinmcp-gateway"]["healthCheckPath"] == "/ready"
    assert services["twinmcp-ingest-worker"]["type"] == "worker"
    assert services["twinmcp-ingest-worker"]["dockerCommand"] == "python -m twinmcp.ingest.worker"
    groups = {g["name"] for g in blueprint["envVarGroups"]}
    for name, service in services.items():
        if service["type"] == "keyvalue":
            continue
        assert (repo / service["dockerfilePath"]).is_file(), name
        env = service["envVars"]
        for entry in env:
            if "fromGroup" in entry:
                assert entry["fromGroup"] in groups
            elif "fromDatabase" in entry:
                assert entry["fromDatabase"]["name"] == database["name"]
            elif "fromService" in entry:
                assert entry["fromService"]["name"] in services, entry
        keys = {e.get("key") for e in env}
        if name != "twinmcp-gateway":
            assert {"DATABASE_URL", "REDIS_URL"} <= keys, name
    for name in ("auth", "search", "ingest"):
        service = services[f"twinmcp-{name}"]
        assert service["type"] == "pserv"
        metrics = {e["key"]: e.get("value") for e in service["envVars"] if "key" in e}
        assert metrics[f"{name.upper()}_METRICS_PORT"] == "-1", "one port, so hostport is gRPC"


def test_railway_configs_build_each_service_from_its_dockerfile(repo: Path) -> None:
    configs = {"gateway": repo / "railway.json"} | {
        p.stem: p for p in (repo / "deploy/railway").glob("*.json")
    }
    assert set(configs) == {*SERVICES, "ingest-worker"}
    for name, path in configs.items():
        config = json.loads(path.read_text())
        service = "ingest" if name == "ingest-worker" else name
        assert config["build"]["builder"] == "DOCKERFILE"
        assert config["build"]["dockerfilePath"] == f"services/{service}/Dockerfile"
        assert (repo / config["build"]["dockerfilePath"]).is_file()
        assert config["deploy"]["drainingSeconds"] >= 20
    worker = json.loads((repo / "deploy/railway/ingest-worker.json").read_text())
    assert worker["deploy"]["startCommand"] == "python -m twinmcp.ingest.worker"
    gateway = json.loads((repo / "railway.json").read_text())
    assert gateway["deploy"]["healthcheckPath"] == "/ready"


def test_railway_rebuilds_a_service_when_anything_its_image_copies_changes(repo: Path) -> None:
    configs = {"gateway": repo / "railway.json"} | {
        p.stem: p for p in (repo / "deploy/railway").glob("*.json")
    }
    for name, path in configs.items():
        build = json.loads(path.read_text())["build"]
        patterns = set(build["watchPatterns"])
        dockerfile = (repo / build["dockerfilePath"]).read_text()
        copied = re.findall(r"^COPY\s+(?!--)(\S+)", dockerfile, re.MULTILINE)
        assert copied, name
        for source in copied:
            watched = source if (repo / source).is_file() else f"{source}/**"
            assert watched in patterns, (
                f"{path.name} does not watch {source}, which its image copies"
            )
