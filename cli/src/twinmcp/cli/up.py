"""`twinmcp up`: every service on this machine, TwinMCP's own docs indexed, a first admin."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from pathlib import Path

import grpc
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.catalog import import_catalog
from twinmcp.cli.config import CliSettings
from twinmcp.cli.jobs import watch_job
from twinmcp.cli.output import console, err
from twinmcp.cli.stack import PROJECT_ROOT, ServiceGaveUp, Stack, local_environment
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel
from twinmcp.runtime.settings import environ

PROJECT_LIBRARY_ID = "/twinmcp/twinmcp"
# The admin user `twinmcp up` makes on a stack that has none by this name.
FIRST_ADMIN = "admin"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("up", help="start every service on this machine (Ctrl-C stops them)")
    parser.add_argument("--no-seed", action="store_true", help="do not index TwinMCP's own docs")
    parser.add_argument(
        "--catalog",
        type=Path,
        action="append",
        default=[],
        help="package catalog TSV (registry, name, popularity_rank, summary)",
    )
    parser.set_defaults(handler=up)


async def up(args: argparse.Namespace, settings: CliSettings) -> int:
    env = local_environment(environ())
    stack = Stack(env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    console.print("[bold]Starting TwinMCP[/bold] (auth, search, ingest + worker, gateway)...")
    try:
        await stack.start()
        ready = CliSettings.from_env(env)
        if args.catalog:
            await import_catalog(args.catalog, ready)
        if not args.no_seed:
            await _seed(ready)
        _print_connection_help(stack.gateway_url, stack.dashboard_url, await _first_admin(ready))
        # A child that exits is restarted with backoff; Ctrl-C or SIGTERM stops everything.
        supervisor = asyncio.ensure_future(stack.supervise())
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({supervisor, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if supervisor in done:
            stopper.cancel()
            try:
                supervisor.result()
            except ServiceGaveUp as exc:
                err.print(f"{exc}; stopping the stack", style="red", markup=False)
            return 1
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        return 0
    except (RuntimeError, TimeoutError) as exc:
        err.print(f"[red]start-up failed:[/red] {exc}")
        return 1
    finally:
        console.print("Stopping TwinMCP...")
        await stack.stop()
        console.print("Stopped.")


async def _seed(settings: CliSettings) -> None:
    """Indexes TwinMCP's own documentation, so a fresh stack has something to answer."""
    async with open_channel(settings.ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        reply = await stub.SubmitSource(
            ingest_pb2.SubmitSourceRequest(
                source=str(PROJECT_ROOT),
                library_id=PROJECT_LIBRARY_ID,
                version="latest",
                make_default=True,
            ),
            timeout=settings.deadline_seconds,
        )
        job = await watch_job(stub, reply.job, settings, f"Indexing {PROJECT_LIBRARY_ID}")
    if job.state != ingest_pb2.JOB_STATE_SUCCEEDED:
        err.print(f"[yellow]indexing the project docs did not succeed:[/yellow] {job.error}")


async def _first_admin(settings: CliSettings) -> str:
    """On a stack without one, an admin user named FIRST_ADMIN and a key for it, so the first
    visit to the dashboard needs no other command; the key's secret, or "" when it exists."""
    async with open_channel(settings.auth_addr) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        try:
            user = await stub.CreateUser(
                auth_pb2.CreateUserRequest(
                    login=FIRST_ADMIN, tier=auth_pb2.TIER_FREE, is_admin=True
                ),
                timeout=settings.deadline_seconds,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return ""
            raise
        created = await stub.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(
                user_id=user.user.user_id, name="first key", scopes=["read", "admin"]
            ),
            timeout=settings.deadline_seconds,
        )
    return created.secret


def _print_connection_help(gateway_url: str, dashboard_url: str, first_key: str) -> None:
    mcp_url = f"{gateway_url}/mcp"
    config = {
        "mcpServers": {
            "twinmcp": {
                "type": "http",
                "url": mcp_url,
                "headers": {"Authorization": "Bearer <your API key>"},
            }
        }
    }
    console.print(f"\n[bold green]TwinMCP is up.[/bold green] MCP endpoint: {mcp_url}")
    if first_key:
        console.print(f"Dashboard: {dashboard_url}")
        console.print(
            f"  sign in with this key of the new admin user '{FIRST_ADMIN}' (shown once):"
        )
        console.print(f"  {first_key}", markup=False, highlight=False)
    else:
        console.print(f"Dashboard: {dashboard_url}")
        console.print(
            "  sign in with a user's API key (`twinmcp users list`, then "
            "`twinmcp keys create --user-id <id>`)"
        )
    console.print(f"REST: {gateway_url}/api/v2/libs/search?libraryName=twinmcp&query=setup")
    console.print("Anonymous use works within the anonymous rate limit; an API key raises it:")
    console.print("  twinmcp users create me && twinmcp keys create --user-id <id>")
    console.print("Claude Code:  claude mcp add --transport http twinmcp " + mcp_url)
    console.print("Cursor / VS Code (mcp.json):")
    console.print(json.dumps(config, indent=2), markup=False, highlight=False)
    console.print("Press Ctrl-C to stop.\n")
