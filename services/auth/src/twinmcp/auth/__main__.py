"""`python -m twinmcp.auth`: load settings, configure logging and telemetry, serve."""

from __future__ import annotations

import asyncio

from twinmcp.auth.config import Settings
from twinmcp.auth.server import serve
from twinmcp.runtime.logs import configure_logging
from twinmcp.runtime.settings import environ
from twinmcp.runtime.telemetry import configure_telemetry


def main() -> None:
    env = environ()
    settings = Settings.from_env(env)
    configure_logging("auth", env)
    configure_telemetry("auth", env)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
