"""`python -m twinmcp.gateway`: the MCP and REST edge of TwinMCP."""

from __future__ import annotations

import asyncio

from twinmcp.gateway.config import Settings
from twinmcp.gateway.server import serve
from twinmcp.runtime.logs import configure_logging
from twinmcp.runtime.settings import environ
from twinmcp.runtime.telemetry import configure_telemetry


def main() -> None:
    env = environ()
    settings = Settings.from_env(env)
    configure_logging("gateway", env)
    configure_telemetry("gateway", env)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
