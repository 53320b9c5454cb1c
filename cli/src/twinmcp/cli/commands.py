"""The `twinmcp` command line: its parser, built from each command group's module, and `run`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
from twinmcp.cli import accounts, catalog, jobs, up
from twinmcp.cli.bridge import bridge_stdio
from twinmcp.cli.config import CliSettings
from twinmcp.cli.output import err
from twinmcp.runtime.settings import SettingsError, environ

Handler = Callable[[argparse.Namespace, CliSettings], Coroutine[Any, Any, int]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twinmcp", description="Operate a TwinMCP stack.")
    sub = parser.add_subparsers(dest="command", required=True)
    # Each group adds its commands, each naming its handler; `twinmcp --help` lists them in
    # this order.
    up.add_commands(sub)
    jobs.add_commands(sub)
    catalog.add_commands(sub)
    accounts.add_commands(sub)
    stdio = sub.add_parser("stdio", help="bridge a stdio MCP host to a TwinMCP HTTP endpoint")
    stdio.add_argument("--url", default="http://127.0.0.1:3000/mcp")
    stdio.add_argument("--api-key", default=os.environ.get("TWINMCP_API_KEY", ""))
    stdio.set_defaults(handler=_stdio)
    return parser


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = CliSettings.from_env(environ())
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        return 2
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args, settings))
    except grpc.aio.AioRpcError as exc:
        err.print(f"[red]{exc.code().name}:[/red] {exc.details()}")
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            err.print("Is the stack running? Start it with `make run` (or `twinmcp up`).")
        return 1
    except KeyboardInterrupt:
        return 130


async def _stdio(args: argparse.Namespace, settings: CliSettings) -> int:
    return await bridge_stdio(args.url, args.api_key, sys.stdin.buffer, sys.stdout.buffer)
