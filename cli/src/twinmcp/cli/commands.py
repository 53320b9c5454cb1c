"""The `twinmcp` sub-commands: run the stack, ingest sources, manage keys, show jobs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.bridge import bridge_stdio
from twinmcp.cli.config import CliSettings
from twinmcp.cli.stack import ServiceGaveUp, Stack, local_environment
from twinmcp.cli.sync import run_sync
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel
from twinmcp.runtime.settings import SettingsError, environ
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2, search_pb2_grpc

console = Console()
err = Console(stderr=True)

FINISHED = {
    ingest_pb2.JOB_STATE_SUCCEEDED,
    ingest_pb2.JOB_STATE_FAILED,
    ingest_pb2.JOB_STATE_CANCELLED,
}
TIERS = {"free": auth_pb2.TIER_FREE, "premium": auth_pb2.TIER_PREMIUM}
PROJECT_ROOT = Path(__file__).resolve().parents[4]
PROJECT_LIBRARY_ID = "/twinmcp/twinmcp"
# The admin user `twinmcp up` makes on a stack that has none by this name.
FIRST_ADMIN = "admin"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twinmcp", description="Operate a TwinMCP stack.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start every service on this machine (Ctrl-C stops them)")
    up.add_argument("--no-seed", action="store_true", help="do not index TwinMCP's own docs")
    up.add_argument(
        "--catalog",
        type=Path,
        action="append",
        default=[],
        help="package catalog TSV (registry, name, popularity_rank, summary)",
    )

    ingest = sub.add_parser("ingest", help="ingest a documentation source")
    ingest.add_argument(
        "source",
        help="pypi:<name>[==<version>], npm:<name>[@<version>], folder, archive, "
        "GitHub/git URL, website or llms.txt URL",
    )
    ingest.add_argument("--library-id", default="", help="e.g. /owner/repo (required for folders)")
    ingest.add_argument("--version", default="")
    ingest.add_argument("--ref", default="", help="git branch, tag or commit")
    ingest.add_argument("--max-pages", type=int, default=0)
    ingest.add_argument("--max-depth", type=int, default=0)
    ingest.add_argument("--no-wait", action="store_true", help="submit and return")

    sync = sub.add_parser(
        "sync", help="ingest every direct dependency of a project at its locked version"
    )
    sync.add_argument("path", type=Path, nargs="?", default=Path("."), help="the project folder")
    sync.add_argument(
        "--transitive", action="store_true", help="also every package the lockfiles pin"
    )
    sync.add_argument(
        "--project",
        default="",
        help="register the locked versions under this name: agents pass it as query-docs' project",
    )
    jobs = sub.add_parser("jobs", help="list ingest jobs")
    jobs.add_argument("--library-id", default="")
    jobs.add_argument("--limit", type=int, default=20)
    job = sub.add_parser("job", help="show one job")
    job.add_argument("job_id")
    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    refresh = sub.add_parser("refresh", help="re-ingest a library from its source")
    refresh.add_argument("library_id")
    follow = sub.add_parser(
        "follow", help="ingest a registry library's new releases on a schedule from now on"
    )
    follow.add_argument("library_id")
    follow.add_argument("--stop", action="store_true", help="stop following the library")
    sub.add_parser("follows", help="list followed libraries")

    sub.add_parser("libraries", help="list indexed libraries")
    catalog = sub.add_parser("catalog", help="import package catalog TSV files")
    catalog.add_argument("files", type=Path, nargs="+")

    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create_user = users.add_parser("create")
    create_user.add_argument("login")
    create_user.add_argument("--email", default="")
    create_user.add_argument("--tier", choices=sorted(TIERS), default="free")
    create_user.add_argument("--admin", action="store_true")
    users.add_parser("list", help="every user, with id, tier and admin flag")

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create_key = keys.add_parser("create")
    create_key.add_argument("--user-id", required=True)
    create_key.add_argument("--name", default="cli")
    create_key.add_argument("--scope", action="append", choices=["read", "admin"], default=[])
    list_keys = keys.add_parser("list")
    list_keys.add_argument("--user-id", required=True)
    revoke = keys.add_parser("revoke")
    revoke.add_argument("--user-id", required=True)
    revoke.add_argument("key_id")

    usage = sub.add_parser("usage", help="requests per key and day")
    usage.add_argument("--user-id", required=True)
    usage.add_argument("--days", type=int, default=30)

    stdio = sub.add_parser("stdio", help="bridge a stdio MCP host to a TwinMCP HTTP endpoint")
    stdio.add_argument("--url", default="http://127.0.0.1:3000/mcp")
    stdio.add_argument("--api-key", default=os.environ.get("TWINMCP_API_KEY", ""))
    return parser


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = CliSettings.from_env(environ())
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        return 2
    handlers: dict[str, Callable[[argparse.Namespace, CliSettings], Coroutine[Any, Any, int]]] = {
        "up": _up,
        "ingest": _ingest,
        "sync": _sync,
        "jobs": _jobs,
        "job": _job,
        "cancel": _cancel,
        "refresh": _refresh,
        "follow": follow_library,
        "follows": list_follows,
        "libraries": _libraries,
        "catalog": _catalog,
        "users": _users,
        "keys": _keys,
        "usage": _usage,
        "stdio": _stdio,
    }
    try:
        return asyncio.run(handlers[args.command](args, settings))
    except grpc.aio.AioRpcError as exc:
        err.print(f"[red]{exc.code().name}:[/red] {exc.details()}")
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            err.print("Is the stack running? Start it with `make run` (or `twinmcp up`).")
        return 1
    except KeyboardInterrupt:
        return 130


# --- the stack -------------------------------------------------------------------------------


async def _up(args: argparse.Namespace, settings: CliSettings) -> int:
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
            await _import_catalog(args.catalog, ready)
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
        job = await _follow(stub, reply.job, settings, f"Indexing {PROJECT_LIBRARY_ID}")
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


# --- ingest and jobs -------------------------------------------------------------------------


async def _follow(
    stub: ingest_pb2_grpc.IngestServiceAsyncStub,
    job: ingest_pb2.Job,
    settings: CliSettings,
    label: str,
) -> ingest_pb2.Job:
    """Polls a job until it finishes, drawing a progress bar over its files."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=None, detail="queued")
        while job.state not in FINISHED:
            await asyncio.sleep(0.3)
            job = (
                await stub.GetJob(
                    ingest_pb2.GetJobRequest(job_id=job.job_id), timeout=settings.deadline_seconds
                )
            ).job
            p = job.progress
            progress.update(
                task,
                total=p.files_total or None,
                completed=p.files_done + p.files_skipped,
                detail=f"{p.phase or ingest_pb2.JobState.Name(job.state).lower()[10:]} "
                f"{p.snippets} snippets",
            )
    state = ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    colour = "green" if job.state == ingest_pb2.JOB_STATE_SUCCEEDED else "red"
    console.print(
        f"[{colour}]{state}[/{colour}] {job.library_id} {job.version} "
        f"({job.progress.snippets} snippets){' - ' + job.error if job.error else ''}"
    )
    return job


async def _ingest(args: argparse.Namespace, settings: CliSettings) -> int:
    source = args.source
    if Path(source).exists():
        source = str(Path(source).resolve())
    async with open_channel(settings.ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        reply = await stub.SubmitSource(
            ingest_pb2.SubmitSourceRequest(
                source=source,
                library_id=args.library_id,
                version=args.version,
                ref=args.ref,
                max_pages=args.max_pages,
                max_depth=args.max_depth,
                make_default=True,
            ),
            timeout=settings.deadline_seconds,
        )
        if args.no_wait:
            console.print(f"submitted job {reply.job.job_id} for {reply.job.library_id}")
            return 0
        job = await _follow(stub, reply.job, settings, f"Ingesting {reply.job.library_id}")
    return 0 if job.state == ingest_pb2.JOB_STATE_SUCCEEDED else 1


async def _sync(args: argparse.Namespace, settings: CliSettings) -> int:
    async with (
        open_channel(settings.ingest_addr) as ingest,
        open_channel(settings.search_addr) as search,
    ):
        return await run_sync(
            args.path.resolve(),
            ingest,
            search,
            console,
            deadline=settings.deadline_seconds,
            transitive=args.transitive,
            project=args.project.strip(),
        )


def _job_row(table: Table, job: ingest_pb2.Job) -> None:
    p = job.progress
    table.add_row(
        job.job_id,
        job.library_id,
        job.version,
        ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower(),
        f"{p.files_done + p.files_skipped}/{p.files_total}",
        str(p.snippets),
        job.created_at,
        job.error[:60],
    )


def _jobs_table() -> Table:
    table = Table("job", "library", "version", "state", "files", "snippets", "created", "error")
    return table


async def _jobs(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).ListJobs(
            ingest_pb2.ListJobsRequest(library_id=args.library_id, limit=args.limit),
            timeout=settings.deadline_seconds,
        )
    table = _jobs_table()
    for job in reply.jobs:
        _job_row(table, job)
    console.print(table)
    return 0


async def _job(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).GetJob(
            ingest_pb2.GetJobRequest(job_id=args.job_id), timeout=settings.deadline_seconds
        )
    table = _jobs_table()
    _job_row(table, reply.job)
    console.print(table)
    return 0


async def _cancel(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).CancelJob(
            ingest_pb2.CancelJobRequest(job_id=args.job_id), timeout=settings.deadline_seconds
        )
    console.print(
        f"job {reply.job.job_id}: "
        f"{ingest_pb2.JobState.Name(reply.job.state).removeprefix('JOB_STATE_').lower()}"
    )
    return 0


async def _refresh(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        reply = await stub.RefreshLibrary(
            ingest_pb2.RefreshLibraryRequest(library_id=args.library_id),
            timeout=settings.deadline_seconds,
        )
        job = await _follow(stub, reply.job, settings, f"Refreshing {args.library_id}")
    return 0 if job.state == ingest_pb2.JOB_STATE_SUCCEEDED else 1


async def follow_library(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        if args.stop:
            await stub.UnfollowLibrary(
                ingest_pb2.UnfollowLibraryRequest(library_id=args.library_id),
                timeout=settings.deadline_seconds,
            )
            console.print(f"{args.library_id} is no longer followed")
            return 0
        reply = await stub.FollowLibrary(
            ingest_pb2.FollowLibraryRequest(library_id=args.library_id),
            timeout=settings.deadline_seconds,
        )
    followed = reply.library
    console.print(
        f"following {followed.library_id} ({followed.source}): newest release "
        f"{followed.newest_release or 'none yet'}; each new release is ingested at the next "
        "check (INGEST_FOLLOW_INTERVAL_SECONDS)"
    )
    return 0


async def list_follows(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).ListFollowedLibraries(
            ingest_pb2.ListFollowedLibrariesRequest(), timeout=settings.deadline_seconds
        )
    table = Table("library", "source", "newest release", "last check", "queued", "last error")
    for f in reply.libraries:
        table.add_row(
            f.library_id,
            f.source,
            f.newest_release,
            f.checked_at or "not yet",
            ", ".join(f.queued_versions),
            f.last_error,
        )
    console.print(table)
    return 0


# --- libraries and catalog -------------------------------------------------------------------


async def _libraries(args: argparse.Namespace, settings: CliSettings) -> int:
    table = Table("library", "title", "default version", "snippets", "tokens", "versions")
    async with open_channel(settings.search_addr) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        token = ""
        while True:
            reply = await stub.ListLibraries(
                search_pb2.ListLibrariesRequest(page_size=100, page_token=token),
                timeout=settings.deadline_seconds,
            )
            for lib in reply.libraries:
                table.add_row(
                    lib.library_id,
                    lib.title,
                    lib.default_version,
                    str(lib.snippet_count),
                    str(lib.token_count),
                    ", ".join(v.version for v in lib.versions),
                )
            token = reply.next_page_token
            if not token:
                break
    console.print(table)
    return 0


def read_catalog(path: Path) -> list[index_pb2.CatalogEntry]:
    """Reads a TSV with the columns registry, name, popularity_rank, summary."""
    entries = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            with contextlib.suppress(KeyError, ValueError):
                entries.append(
                    index_pb2.CatalogEntry(
                        registry=row["registry"],
                        name=row["name"],
                        popularity_rank=int(row["popularity_rank"] or 0),
                        summary=row.get("summary") or "",
                    )
                )
    return entries


async def _import_catalog(files: list[Path], settings: CliSettings) -> int:
    total = 0
    async with open_channel(settings.search_addr) as channel:
        stub = index_pb2_grpc.IndexServiceStub(channel)
        for path in files:
            entries = read_catalog(path)
            for start in range(0, len(entries), 5000):
                reply = await stub.ImportCatalog(
                    index_pb2.ImportCatalogRequest(entries=entries[start : start + 5000]),
                    timeout=settings.deadline_seconds * 4,
                )
                total += reply.imported
    console.print(f"imported {total} catalog entries")
    return total


async def _catalog(args: argparse.Namespace, settings: CliSettings) -> int:
    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        err.print(f"[red]no such file:[/red] {', '.join(missing)}")
        return 2
    await _import_catalog(args.files, settings)
    return 0


# --- users, keys, usage ----------------------------------------------------------------------


async def _users(args: argparse.Namespace, settings: CliSettings) -> int:
    if args.action == "list":
        return await _list_users(settings)
    async with open_channel(settings.auth_addr) as channel:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).CreateUser(
            auth_pb2.CreateUserRequest(
                login=args.login, email=args.email, tier=TIERS[args.tier], is_admin=args.admin
            ),
            timeout=settings.deadline_seconds,
        )
    console.print(f"user {reply.user.login}: id {reply.user.user_id}")
    return 0


async def _list_users(settings: CliSettings) -> int:
    table = Table("login", "id", "tier", "admin", "created")
    async with open_channel(settings.auth_addr) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        token = ""
        while True:
            page = await stub.ListUsers(
                auth_pb2.ListUsersRequest(page_size=1000, page_token=token),
                timeout=settings.deadline_seconds,
            )
            for user in page.users:
                table.add_row(
                    user.login,
                    user.user_id,
                    auth_pb2.Tier.Name(user.tier).removeprefix("TIER_").lower(),
                    "yes" if user.is_admin else "",
                    user.created_at.ToJsonString()[:10] if user.HasField("created_at") else "",
                )
            token = page.next_page_token
            if not token:
                break
    console.print(table)
    return 0


async def _keys(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.auth_addr) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        if args.action == "create":
            created = await stub.CreateApiKey(
                auth_pb2.CreateApiKeyRequest(
                    user_id=args.user_id, name=args.name, scopes=args.scope or ["read"]
                ),
                timeout=settings.deadline_seconds,
            )
            console.print(
                f"key {created.key.key_id} ({', '.join(created.key.scopes)}); "
                "copy it now, it is not shown again:"
            )
            console.print(created.secret, markup=False, highlight=False)
        elif args.action == "list":
            listed = await stub.ListApiKeys(
                auth_pb2.ListApiKeysRequest(user_id=args.user_id), timeout=settings.deadline_seconds
            )
            table = Table("key", "prefix", "name", "scopes", "created", "last used", "revoked")
            for key in listed.keys:
                table.add_row(
                    key.key_id,
                    key.prefix,
                    key.name,
                    ",".join(key.scopes),
                    key.created_at.ToJsonString() if key.HasField("created_at") else "",
                    key.last_used_at.ToJsonString() if key.HasField("last_used_at") else "",
                    "yes" if key.is_revoked else "",
                )
            console.print(table)
        else:
            await stub.RevokeApiKey(
                auth_pb2.RevokeApiKeyRequest(user_id=args.user_id, key_id=args.key_id),
                timeout=settings.deadline_seconds,
            )
            console.print(f"revoked {args.key_id}")
    return 0


async def _usage(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.auth_addr) as channel:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).GetUsage(
            auth_pb2.GetUsageRequest(user_id=args.user_id, days=args.days),
            timeout=settings.deadline_seconds,
        )
    table = Table("date", "key", "requests")
    for day in reply.days:
        table.add_row(day.date, day.key_id, str(day.requests))
    console.print(table)
    return 0


async def _stdio(args: argparse.Namespace, settings: CliSettings) -> int:
    return await bridge_stdio(args.url, args.api_key, sys.stdin.buffer, sys.stdout.buffer)
