"""`python -m twinmcp.search`: load settings, configure logging and telemetry, serve."""

from __future__ import annotations

import asyncio

from twinmcp.runtime.logs import configure_logging
from twinmcp.runtime.settings import SettingsError, environ
from twinmcp.runtime.telemetry import configure_telemetry
from twinmcp.search.config import Settings
from twinmcp.search.errors import StoreUnreadableError
from twinmcp.search.heap import fix_mmap_threshold
from twinmcp.search.server import serve


def main() -> None:
    env = environ()
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        raise SystemExit(f"search: {exc}") from None
    configure_logging("search", env)
    configure_telemetry("search", env)
    # MALLOC_MMAP_THRESHOLD_ in the environment is glibc's own setting: it wins.
    if "MALLOC_MMAP_THRESHOLD_" not in env:
        fix_mmap_threshold(settings.malloc_mmap_threshold_kb * 1024)
    try:
        asyncio.run(serve(settings))
    except StoreUnreadableError as exc:
        raise SystemExit(f"search: {exc}") from None


if __name__ == "__main__":
    main()
