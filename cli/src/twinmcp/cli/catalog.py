"""`twinmcp libraries` and `twinmcp catalog`: what search has indexed, and the package catalog
it resolves names against."""

from __future__ import annotations

import argparse
import contextlib
import csv
from pathlib import Path

from rich.table import Table
from twinmcp.cli.config import CliSettings
from twinmcp.cli.output import console, err
from twinmcp.runtime.channels import open_channel
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2, search_pb2_grpc


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("libraries", help="list indexed libraries").set_defaults(handler=list_libraries)
    catalog = sub.add_parser("catalog", help="import package catalog TSV files")
    catalog.add_argument("files", type=Path, nargs="+")
    catalog.set_defaults(handler=import_catalog_files)


async def list_libraries(args: argparse.Namespace, settings: CliSettings) -> int:
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


async def import_catalog(files: list[Path], settings: CliSettings) -> int:
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


async def import_catalog_files(args: argparse.Namespace, settings: CliSettings) -> int:
    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        err.print(f"[red]no such file:[/red] {', '.join(missing)}")
        return 2
    await import_catalog(args.files, settings)
    return 0
