"""The OpenAPI 3.1 document of the REST API: a table of operations naming the models of
schemas.py, whose JSON Schemas pydantic generates as the components."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema
from twinmcp.gateway import schemas as s

_ERROR_TEXT = {
    400: "The request is malformed; the message says which parameter.",
    401: "No valid credential; send 'Authorization: Bearer <key>'.",
    403: "The credential lacks the needed scope.",
    404: "No such library, version, job or key.",
    409: "The request conflicts with the current state.",
    413: "The body is too large.",
    429: "Rate limit exceeded; see Retry-After.",
    502: "A backing service failed.",
    503: "A backing service is unavailable; retry shortly.",
}
_COMMON = (401, 429, 502, 503)
_ADMIN = (400, 401, 403, 404, 409, 429, 502, 503)
_TEXT = "text"  # a 200 that is Markdown (type=txt) or the model's JSON (type=json)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    # status -> (the body's model, or None for no body; description)
    responses: Mapping[int, tuple[type[BaseModel] | None, str]]
    errors: tuple[int, ...] = ()
    params: type[s.Params] | None = None
    path_params: Mapping[str, str] = field(default_factory=dict)
    body: type[s.Body] | None = None
    is_body_required: bool = True
    description: str = ""
    is_public: bool = False
    is_text: bool = False  # the 200 may be text/plain too (type=txt)


_LIBRARY_ID = {"libraryId": "Library ID without the leading slash."}
_CONTEXT = {200: (s.Context, "Snippets in rank order, as Markdown (txt) or JSON.")}
_PROJECT_NOTE = (
    "`project` is a registered project's name or the text of one lockfile or manifest; the "
    "answer is then for the version the project locks and says which (a lockfile that locks "
    "none of the library's packages gets the default version, and the answer says so). URLs "
    "stop at about 8 KB: send a lockfile with POST, whose body may hold up to 1 MB."
)

OPERATIONS = (
    Operation("get", "/health", "health", "Liveness", {200: (s.Health, "Alive.")}, is_public=True),
    Operation(
        "get",
        "/ready",
        "ready",
        "Readiness: auth and search, the query path, answer health checks",
        {
            200: (s.Ready, "Ready."),
            503: (s.Ready, "Auth or search is down, or the gateway is draining."),
        },
        is_public=True,
    ),
    Operation(
        "get",
        "/health/detail",
        "healthDetail",
        "Every peer's state, ingest included; always 200",
        {200: (s.HealthDetail, "States.")},
        is_public=True,
    ),
    Operation(
        "get",
        "/api/v2/libs/search",
        "searchLibraries",
        "Find libraries by name",
        {200: (s.SearchResults, "Matches.")},
        (400, *_COMMON),
        params=s.LibrarySearchParams,
        description=_PROJECT_NOTE,
    ),
    Operation(
        "post",
        "/api/v2/libs/search",
        "searchLibrariesPost",
        "Find libraries by name, for a project sent as its lockfile",
        {200: (s.SearchResults, "Matches.")},
        (400, 413, *_COMMON),
        body=s.LibrarySearchBody,
        description="The query parameters of GET as a JSON body. " + _PROJECT_NOTE,
    ),
    Operation(
        "get",
        "/api/v1/search",
        "searchLibrariesV1",
        "Find libraries by name (v1)",
        {200: (s.SearchResults, "Matches.")},
        (400, *_COMMON),
        params=s.LibrarySearchV1Params,
    ),
    Operation(
        "get",
        "/api/v2/context",
        "getContext",
        "Documentation snippets answering a question",
        _CONTEXT,
        (400, 404, *_COMMON),
        params=s.ContextParams,
        description=_PROJECT_NOTE,
        is_text=True,
    ),
    Operation(
        "post",
        "/api/v2/context",
        "getContextPost",
        "Documentation snippets answering a question, for a project sent as its lockfile",
        _CONTEXT,
        (400, 404, 413, *_COMMON),
        body=s.ContextBody,
        description="The query parameters of GET as a JSON body. " + _PROJECT_NOTE,
        is_text=True,
    ),
    Operation(
        "get",
        "/api/v3/search",
        "searchDocs",
        "Documentation snippets answering a question across libraries",
        {200: (s.DocsSearch, "Snippets in rank order, as Markdown (txt) or JSON.")},
        (400, 404, *_COMMON),
        params=s.DocsSearchParams,
        description=(
            "One call, no library ID needed: the libraries come from `libraries` (up to 4 IDs "
            "or names) or, without it, from the question (a library it names, or whose "
            "documentation matches it best). Snippets of several libraries are ranked together "
            "within `tokens`, each tagged with its library ID and version; duplicates across "
            "libraries are dropped. The text, header included, never exceeds `tokens` (a first "
            "snippet too big is cut and marked), and the JSON form's `snippets` are exactly the "
            "ones the text shows, cut the same way. `version` is strict and needs exactly one "
            "library: an unindexed one is a 404 listing the indexed versions."
        ),
        is_text=True,
    ),
    Operation(
        "get",
        "/api/v1/{owner}/{repo}",
        "getContextV1",
        "Documentation of a library's default version (v1)",
        _CONTEXT,
        (400, 404, *_COMMON),
        params=s.ContextV1Params,
        path_params={
            "owner": "First segment of the library ID.",
            "repo": "Second segment of the library ID.",
        },
        is_text=True,
    ),
    Operation(
        "get",
        "/api/v1/{owner}/{repo}/{version}",
        "getContextV1Version",
        "Documentation of one version of a library (v1)",
        _CONTEXT,
        (400, 404, *_COMMON),
        params=s.ContextV1Params,
        path_params={
            "owner": "First segment of the library ID.",
            "repo": "Second segment of the library ID.",
            "version": "The version.",
        },
        is_text=True,
    ),
    Operation(
        "post",
        "/api/v1/admin/sources",
        "submitSource",
        "Submit a documentation source for ingestion (admin)",
        {202: (s.JobAnswer, "The job.")},
        _ADMIN,
        body=s.SourceSubmission,
    ),
    Operation(
        "post",
        "/api/v1/admin/libraries/{libraryId}/refresh",
        "refreshLibrary",
        "Re-ingest a library from its last source (admin)",
        {202: (s.JobAnswer, "The job.")},
        _ADMIN,
        path_params=_LIBRARY_ID,
        body=s.RefreshRequest,
        is_body_required=False,
    ),
    Operation(
        "post",
        "/api/v1/admin/libraries/{libraryId}/follow",
        "followLibrary",
        "Follow a registry library: ingest its new releases (admin)",
        {200: (s.Followed, "The followed library.")},
        _ADMIN,
        path_params=_LIBRARY_ID,
    ),
    Operation(
        "delete",
        "/api/v1/admin/libraries/{libraryId}/follow",
        "unfollowLibrary",
        "Stop following a library (admin)",
        {204: (None, "No longer followed.")},
        _ADMIN,
        path_params=_LIBRARY_ID,
    ),
    Operation(
        "get",
        "/api/v1/admin/follows",
        "listFollows",
        "List followed libraries and their last check (admin)",
        {200: (s.Follows, "The followed libraries.")},
        (401, 403, 429, 502, 503),
    ),
    Operation(
        "post",
        "/api/v1/admin/projects",
        "registerProject",
        "Register a project from its manifests and lockfiles (admin)",
        {200: (s.Project, "Each locked package and its library.")},
        (400, 401, 403, 413, 429, 502, 503),
        body=s.ProjectRegistration,
        description=(
            "`files` maps paths from the project's root to their contents: requirements*.txt, "
            "requirements/*.txt, pyproject.toml, Pipfile, uv.lock, poetry.lock, Pipfile.lock, "
            "package.json, package-lock.json, pnpm-lock.yaml, yarn.lock. The locked versions "
            "are registered under `name`; query-docs, resolve-library-id and /api/v2/context "
            "given `project` answer for them."
        ),
    ),
    Operation(
        "get",
        "/api/v1/admin/jobs",
        "listJobs",
        "List ingestion jobs (admin)",
        {200: (s.Jobs, "Jobs, newest first.")},
        _ADMIN,
        params=s.JobsParams,
    ),
    Operation(
        "get",
        "/api/v1/admin/jobs/{jobId}",
        "getJob",
        "One ingestion job (admin)",
        {200: (s.JobAnswer, "The job.")},
        _ADMIN,
        path_params={"jobId": "Job ID."},
    ),
    Operation(
        "post",
        "/api/v1/admin/jobs/{jobId}/cancel",
        "cancelJob",
        "Cancel an ingestion job (admin)",
        {200: (s.JobAnswer, "The job.")},
        _ADMIN,
        path_params={"jobId": "Job ID."},
    ),
    Operation(
        "get",
        "/api/v1/account/keys",
        "listKeys",
        "The caller's API keys",
        {200: (s.Keys, "Keys (never their secrets).")},
        _ADMIN,
    ),
    Operation(
        "post",
        "/api/v1/account/keys",
        "createKey",
        "Create an API key; the secret is shown once",
        {201: (s.NewKey, "The new key and its secret.")},
        _ADMIN,
        body=s.NewKeyRequest,
        is_body_required=False,
        description=(
            "Each requested scope must be one the calling key or session holds ('admin' "
            "includes 'read'), else 403 naming the scopes it lacks."
        ),
    ),
    Operation(
        "delete",
        "/api/v1/account/keys/{keyId}",
        "revokeKey",
        "Revoke an API key",
        {200: (s.RevokedKey, "The revoked key.")},
        _ADMIN,
        path_params={"keyId": "Key ID."},
    ),
    Operation(
        "get",
        "/api/v1/account/usage",
        "getUsage",
        "Requests per day and key",
        {200: (s.Usage, "Usage.")},
        _ADMIN,
        params=s.UsageParams,
    ),
    Operation(
        "get",
        "/auth/github/login",
        "githubLogin",
        "Start GitHub sign-in (redirects to GitHub)",
        {302: (None, "Redirect to GitHub.")},
        (502, 503),
        is_public=True,
    ),
    Operation(
        "get",
        "/auth/github/callback",
        "githubCallback",
        "Finish GitHub sign-in",
        {200: (s.SignIn, "Session tokens and the user.")},
        (400, 401, 404, 409, 429, 502, 503),
        params=s.SignInParams,
        is_public=True,
    ),
    Operation(
        "post",
        "/auth/refresh",
        "refreshSession",
        "Exchange a refresh token for new session tokens",
        {200: (s.Refreshed, "New tokens.")},
        (400, 401, 404, 409, 429, 502, 503),
        body=s.SessionRefresh,
        is_public=True,
    ),
)


class _Schemas(GenerateJsonSchema):
    """Components as the API behaves: no titles, and a field that may be None is left out of
    the body (exclude_none), never sent as null."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def generate(self, schema: Any, mode: Any = "validation") -> JsonSchemaValue:
        document = super().generate(schema, mode)
        document.pop("title", None)
        return document


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel] | None, description: str) -> dict[str, Any]:
    if model is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    out = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": text,
            "schema": {"type": "string", "minLength": 1},
        }
        for name, text in operation.path_params.items()
    ]
    if operation.params is not None:
        schema = operation.params.model_json_schema(schema_generator=_Schemas)
        required = set(schema.get("required", ()))
        for name, prop in schema["properties"].items():
            prop = dict(prop)
            description = prop.pop("description", "")
            prop.pop("default", None)
            if name in required and prop.get("type") == "string":
                prop["minLength"] = 1
            out.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "description": description,
                    "schema": prop,
                }
            )
    return out


def _operation(operation: Operation) -> dict[str, Any]:
    responses = {
        str(status): _json(model, text) for status, (model, text) in operation.responses.items()
    }
    if operation.is_text:
        responses["200"]["content"] = {
            "text/plain": {"schema": {"type": "string"}},
            **responses["200"]["content"],
        }
    responses.update(
        {str(status): _json(s.Error, _ERROR_TEXT[status]) for status in operation.errors}
    )
    out: dict[str, Any] = {"summary": operation.summary, "operationId": operation.operation_id}
    if operation.description:
        out["description"] = operation.description
    if operation.is_public:
        out["security"] = []
    parameters = _parameters(operation)
    if parameters:
        out["parameters"] = parameters
    if operation.body is not None:
        out["requestBody"] = {
            "required": operation.is_body_required,
            "content": {"application/json": {"schema": _ref(operation.body)}},
        }
    out["responses"] = responses
    return out


@cache
def _paths_and_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    paths: dict[str, Any] = {}
    models: dict[type[BaseModel], None] = {s.Error: None}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
        models.update({m: None for m, _ in operation.responses.values() if m is not None})
        if operation.body is not None:
            models[operation.body] = None
    _, document = models_json_schema(
        [
            (model, "validation" if issubclass(model, s.Body) else "serialization")
            for model in models
        ],
        ref_template="#/components/schemas/{model}",
        schema_generator=_Schemas,
    )
    return paths, document["$defs"]


def openapi_document(base_url: str) -> dict[str, Any]:
    paths, schemas = _paths_and_schemas()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TwinMCP REST API",
            "version": "1.0.0",
            "description": (
                "Library search and documentation context (Context7-compatible), ingestion "
                "admin, and account keys. MCP clients use POST /mcp instead."
            ),
        },
        "servers": [{"url": base_url}],
        "security": [{}, {"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": schemas,
        },
    }
