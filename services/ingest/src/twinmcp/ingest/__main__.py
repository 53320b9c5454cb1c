"""`python -m twinmcp.ingest`: the ingest gRPC server (and INGEST_WORKERS in-process workers)."""

import asyncio

from twinmcp.ingest.config import Settings
from twinmcp.ingest.server import serve
from twinmcp.runtime.logs import configure_logging
from twinmcp.runtime.settings import environ
from twinmcp.runtime.telemetry import configure_telemetry


def main() -> None:
    env = environ()
    settings = Settings.from_env(env)
    configure_logging("ingest", env)
    configure_telemetry("ingest", env)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
