"""Admin REST for libraries from package registries: following releases, registering projects."""

from __future__ import annotations

from aiohttp import web
from twinmcp.gateway.arguments import check_text
from twinmcp.gateway.clients.search import SearchClient
from twinmcp.gateway.errors import InputError
from twinmcp.gateway.rest import _json_body, _require, _to_json, json_answer
from twinmcp.gateway.schemas import (
    Project,
    ProjectPackage,
    ProjectRegistration,
    UnlockedPackage,
    validated,
)
from twinmcp.gateway.state import GATEWAY
from twinmcp.ingest.v1 import ingest_pb2
from twinmcp.lockfiles import ManifestError, is_project_file, read_files
from twinmcp.search.v1 import search_pb2

# What one registration may carry: a project's manifests and lockfiles, not a repository.
MAX_PROJECT_FILES = 50
ACCEPTED_FILES = (
    "requirements*.txt, requirements/*.txt, pyproject.toml, Pipfile, uv.lock, poetry.lock, "
    "Pipfile.lock, package.json, package-lock.json, pnpm-lock.yaml, yarn.lock"
)

routes = web.RouteTableDef()


def followed_json(library: ingest_pb2.FollowedLibrary) -> dict[str, object]:
    return _to_json(library)


def _library_id(request: web.Request) -> str:
    return check_text("libraryId", "/" + request.match_info["library_id"].strip("/"))


@routes.post(r"/api/v1/admin/libraries/{library_id:.+}/follow")
async def follow_library(request: web.Request) -> web.Response:
    """Follows a registry library: its new releases are ingested on ingest's schedule."""
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.follow_library(_library_id(request))
    return web.json_response({"library": followed_json(reply.library)})


@routes.delete(r"/api/v1/admin/libraries/{library_id:.+}/follow")
async def unfollow_library(request: web.Request) -> web.Response:
    _require(request, "admin")
    await request.app[GATEWAY].peers.ingest.unfollow_library(_library_id(request))
    return web.Response(status=204)


@routes.get("/api/v1/admin/follows")
async def list_followed(request: web.Request) -> web.Response:
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.list_followed_libraries()
    return web.json_response({"libraries": [followed_json(f) for f in reply.libraries]})


def project_files(files: object) -> dict[str, str]:
    """The project files sent, path to content, checked: a known manifest or lockfile each."""
    if not isinstance(files, dict) or not files:
        raise InputError(
            "'files' must be an object of the project's manifests and lockfiles, path to "
            f'content, e.g. {{"uv.lock": "..."}}; accepted: {ACCEPTED_FILES}'
        )
    if len(files) > MAX_PROJECT_FILES:
        raise InputError(f"'files' holds {len(files)} files; send at most {MAX_PROJECT_FILES}")
    out: dict[str, str] = {}
    for path, content in files.items():
        if not isinstance(content, str):
            raise InputError(f"the content of {str(path)[:100]!r} must be a string")
        cleaned = str(path).strip().removeprefix("./")
        if not is_project_file(cleaned):
            raise InputError(
                f"{str(path)[:100]!r} is not a manifest or lockfile read here; accepted (paths "
                f"from the project's root): {ACCEPTED_FILES}"
            )
        out[cleaned] = content
    return out


def project_name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InputError("'name' is required: the project's name, e.g. 'shop'")
    return raw.strip()


async def register_project_files(
    search: SearchClient, name: str, files: dict[str, str], *, transitive: bool = False
) -> Project:
    """Reads a project's checked files (`project_files`) and registers its locked packages
    with search: the answer of POST /api/v1/admin/projects, shared with the dashboard."""
    try:
        dependencies = read_files(files, transitive=transitive)
    except ManifestError as error:
        raise InputError(str(error)) from None
    locked = [d for d in dependencies if d.is_locked]
    reply = await search.register_project(
        name,
        [
            search_pb2.LockedPackage(registry=d.registry, name=d.name, version=d.version)
            for d in locked
        ],
    )
    packages = [
        ProjectPackage(
            registry=item.package.registry,
            name=item.package.name,
            version=item.package.version,
            libraryId=item.library_id,
            isVersionIndexed=item.is_version_indexed,
            # What to run when the locked version is not served yet.
            ingest=""
            if item.is_version_indexed
            else f"twinmcp ingest {registry_source(item.package)}",
        )
        for item in reply.packages
    ]
    unlocked = [
        UnlockedPackage(registry=d.registry, name=d.name, declared=d.version, foundIn=d.found_in)
        for d in dependencies
        if not d.is_locked
    ]
    return Project(name=name, packages=packages, unlocked=unlocked)


def registry_source(package: search_pb2.LockedPackage) -> str:
    """The ingest source of a locked package: pypi:name==version or npm:name@version."""
    separator = "==" if package.registry == "pypi" else "@"
    return f"{package.registry}:{package.name}{separator}{package.version}"


@routes.post("/api/v1/admin/projects")
async def register_project(request: web.Request) -> web.Response:
    """Registers a named project from its manifests and lockfiles (their contents): query-docs
    and resolve-library-id given its name answer for the versions it locks."""
    _require(request, "admin")
    body = validated(ProjectRegistration, await _json_body(request))
    name = project_name(body.name)
    files = project_files(body.files)
    answer = await register_project_files(
        request.app[GATEWAY].peers.search, name, files, transitive=body.transitive
    )
    return json_answer(answer)
