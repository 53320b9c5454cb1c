"""Fixtures for end-to-end tests: the services as real processes on free ports."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from twinmcp.cli.stack import PROJECT_ROOT, SERVICES, Stack, isolated_environment

StackEnvironment = Callable[..., dict[str, str]]


@pytest.fixture
def make_env(tmp_path: Path) -> StackEnvironment:
    """Builds a stack environment in the test's own data folder, with extra variables."""

    def build(**extra: str) -> dict[str, str]:
        defaults = {
            "LOG_FORMAT": "json",
            "EMBEDDING_PROVIDER": "none",
            # Ingest reads local folders only under these roots: the test's own folder and the
            # project, whose docs `twinmcp up` indexes.
            "INGEST_LOCAL_ROOTS": os.pathsep.join((str(tmp_path), str(PROJECT_ROOT))),
        }
        return isolated_environment(os.environ, tmp_path, **{**defaults, **extra})

    return build


@pytest.fixture
async def stack(make_env: StackEnvironment) -> AsyncIterator[Stack]:
    running = Stack(make_env())
    try:
        await running.start(SERVICES, timeout=90)
        yield running
    finally:
        await running.stop()
