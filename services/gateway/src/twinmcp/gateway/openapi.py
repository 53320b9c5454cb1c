"""The OpenAPI 3.1 description of the REST API, written by hand to match rest.py."""

from __future__ import annotations

from typing import Any

from twinmcp.gateway.arguments import limit_for

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
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
    return {str(status): _json(_ERROR, text[status]) for status in statuses}


_COMMON = (401, 429, 502, 503)


def _param(
    name: str, description: str, *, required: bool = False, schema: Any = None
) -> dict[str, Any]:
    schema = schema or {"type": "string"}
    if schema.get("type") == "string" and "enum" not in schema:
        # The cap rest.py enforces for this name (arguments.LIMITS).
        schema = {**schema, "maxLength": limit_for(name)}
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


_CONTEXT_PARAMS = [
    _param(
        "tokens",
        "Token budget (default 5000, capped at 25000, raised to at least 500).",
        schema={"type": "integer"},
    ),
    _param("type", "Answer format.", schema={"type": "string", "enum": ["txt", "json"]}),
]

_CONTEXT_RESPONSES = {
    "200": {
        "description": "Snippets in rank order, as Markdown (txt) or JSON.",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Context"}},
        },
    },
    **_errors(400, 404, *_COMMON),
}

_JOB_RESPONSE = _json(
    {
        "type": "object",
        "required": ["job"],
        "properties": {"job": {"$ref": "#/components/schemas/Job"}},
    },
    "The job.",
)
_ADMIN_ERRORS = _errors(400, 401, 403, 404, 409, 429, 502, 503)

_FOLLOWED = {
    "type": "object",
    "properties": {
        "libraryId": {"type": "string"},
        "source": {"type": "string", "description": "The registry package, e.g. pypi:flask."},
        "followedAt": {"type": "string"},
        "checkedAt": {"type": "string"},
        "newestRelease": {"type": "string"},
        "lastError": {"type": "string"},
        "queuedVersions": {"type": "array", "items": {"type": "string"}},
    },
}
_PROJECT = {
    "type": "object",
    "required": ["name", "packages", "unlocked"],
    "properties": {
        "name": {"type": "string"},
        "packages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "registry": {"type": "string"},
                    "name": {"type": "string"},
                    "version": {"type": "string"},
                    "libraryId": {"type": "string"},
                    "isVersionIndexed": {"type": "boolean"},
                    "ingest": {"type": "string"},
                },
            },
        },
        "unlocked": {"type": "array", "items": {"type": "object"}},
    },
}


def openapi_document(base_url: str) -> dict[str, Any]:
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
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness",
                    "operationId": "health",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "Alive.")},
                }
            },
            "/ready": {
                "get": {
                    "summary": "Readiness: auth and search, the query path, answer health checks",
                    "operationId": "ready",
                    "security": [],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Ready"}, "Ready."),
                        "503": _json(
                            {"$ref": "#/components/schemas/Ready"},
                            "Auth or search is down, or the gateway is draining.",
                        ),
                    },
                }
            },
            "/health/detail": {
                "get": {
                    "summary": "Every peer's state, ingest included; always 200",
                    "operationId": "healthDetail",
                    "security": [],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/HealthDetail"}, "States."),
                    },
                }
            },
            "/api/v2/libs/search": {
                "get": {
                    "summary": "Find libraries by name",
                    "operationId": "searchLibraries",
                    "parameters": [
                        _param(
                            "libraryName",
                            "Library name, e.g. 'fastapi'.",
                            required=True,
                            schema={"type": "string", "minLength": 1},
                        ),
                        _param("query", "What the user wants to do; ranks the candidates."),
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/SearchResults"}, "Matches."),
                        **_errors(400, *_COMMON),
                    },
                }
            },
            "/api/v1/search": {
                "get": {
                    "summary": "Find libraries by name (v1)",
                    "operationId": "searchLibrariesV1",
                    "parameters": [
                        _param(
                            "query",
                            "Library name.",
                            required=True,
                            schema={"type": "string", "minLength": 1},
                        )
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/SearchResults"}, "Matches."),
                        **_errors(400, *_COMMON),
                    },
                }
            },
            "/api/v2/context": {
                "get": {
                    "summary": "Documentation snippets answering a question",
                    "operationId": "getContext",
                    "parameters": [
                        _param(
                            "libraryId",
                            "Library ID such as '/fastapi/fastapi' or '/fastapi/fastapi/0.110.0'.",
                            required=True,
                        ),
                        _param("query", "The question."),
                        *_CONTEXT_PARAMS,
                        _param(
                            "project",
                            "A project registered with POST /api/v1/admin/projects: without a "
                            "version in libraryId, the answer is for the version it locks.",
                        ),
                    ],
                    "responses": _CONTEXT_RESPONSES,
                }
            },
            "/api/v3/search": {
                "get": {
                    "summary": "Documentation snippets answering a question across libraries",
                    "description": (
                        "One call, no library ID needed: the libraries come from `libraries` "
                        "(up to 4 IDs or names) or, without it, from the question (a library "
                        "it names, or whose documentation matches it best). Snippets of "
                        "several libraries are ranked together within `tokens`, each tagged "
                        "with its library ID and version; duplicates across libraries are "
                        "dropped. `version` is strict and needs exactly one library: an "
                        "unindexed one is a 404 listing the indexed versions."
                    ),
                    "operationId": "searchDocs",
                    "parameters": [
                        _param(
                            "query",
                            "The question.",
                            required=True,
                            schema={"type": "string", "minLength": 1},
                        ),
                        _param(
                            "libraries",
                            "Up to 4 library IDs or names, comma-separated (or the parameter "
                            "repeated), e.g. 'fastapi,/encode/httpx'. Each is capped.",
                        ),
                        _param("version", "A version of the one library in 'libraries'."),
                        _param(
                            "language",
                            "Keep code snippets in this language only: python, javascript "
                            "(typescript), go, rust, java, ... Shell and configuration "
                            "snippets stay; without 'libraries', so do only libraries for it.",
                        ),
                        *_CONTEXT_PARAMS,
                    ],
                    "responses": {
                        "200": {
                            "description": "Snippets in rank order, as Markdown (txt) or JSON.",
                            "content": {
                                "text/plain": {"schema": {"type": "string"}},
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/DocsSearch"}
                                },
                            },
                        },
                        **_errors(400, 404, *_COMMON),
                    },
                }
            },
            "/api/v1/{owner}/{repo}": {
                "get": {
                    "summary": "Documentation of a library's default version (v1)",
                    "operationId": "getContextV1",
                    "parameters": [
                        _path("owner", "First segment of the library ID."),
                        _path("repo", "Second segment of the library ID."),
                        _param("topic", "What to focus on."),
                        *_CONTEXT_PARAMS,
                    ],
                    "responses": _CONTEXT_RESPONSES,
                }
            },
            "/api/v1/{owner}/{repo}/{version}": {
                "get": {
                    "summary": "Documentation of one version of a library (v1)",
                    "operationId": "getContextV1Version",
                    "parameters": [
                        _path("owner", "First segment of the library ID."),
                        _path("repo", "Second segment of the library ID."),
                        _path("version", "The version."),
                        _param("topic", "What to focus on."),
                        *_CONTEXT_PARAMS,
                    ],
                    "responses": _CONTEXT_RESPONSES,
                }
            },
            "/api/v1/admin/sources": {
                "post": {
                    "summary": "Submit a documentation source for ingestion (admin)",
                    "operationId": "submitSource",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SourceSubmission"}
                            }
                        },
                    },
                    "responses": {"202": _JOB_RESPONSE, **_ADMIN_ERRORS},
                }
            },
            "/api/v1/admin/libraries/{libraryId}/refresh": {
                "post": {
                    "summary": "Re-ingest a library from its last source (admin)",
                    "operationId": "refreshLibrary",
                    "parameters": [_path("libraryId", "Library ID without the leading slash.")],
                    "responses": {"202": _JOB_RESPONSE, **_ADMIN_ERRORS},
                }
            },
            "/api/v1/admin/libraries/{libraryId}/follow": {
                "post": {
                    "summary": "Follow a registry library: ingest its new releases (admin)",
                    "operationId": "followLibrary",
                    "parameters": [_path("libraryId", "Library ID without the leading slash.")],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["library"],
                                "properties": {"library": _FOLLOWED},
                            },
                            "The followed library.",
                        ),
                        **_ADMIN_ERRORS,
                    },
                },
                "delete": {
                    "summary": "Stop following a library (admin)",
                    "operationId": "unfollowLibrary",
                    "parameters": [_path("libraryId", "Library ID without the leading slash.")],
                    "responses": {"204": {"description": "No longer followed."}, **_ADMIN_ERRORS},
                },
            },
            "/api/v1/admin/follows": {
                "get": {
                    "summary": "List followed libraries and their last check (admin)",
                    "operationId": "listFollows",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["libraries"],
                                "properties": {"libraries": {"type": "array", "items": _FOLLOWED}},
                            },
                            "The followed libraries.",
                        ),
                        **_errors(401, 403, 429, 502, 503),
                    },
                }
            },
            "/api/v1/admin/projects": {
                "post": {
                    "summary": "Register a project from its manifests and lockfiles (admin)",
                    "description": (
                        "`files` maps paths from the project's root to their contents: "
                        "requirements*.txt, requirements/*.txt, pyproject.toml, Pipfile, uv.lock, "
                        "poetry.lock, Pipfile.lock, package.json, package-lock.json, "
                        "pnpm-lock.yaml, yarn.lock. The locked versions are registered under "
                        "`name`; query-docs, resolve-library-id and /api/v2/context given "
                        "`project` answer for them."
                    ),
                    "operationId": "registerProject",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name", "files"],
                                    "properties": {
                                        "name": {"type": "string", "maxLength": 100},
                                        "files": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "transitive": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(_PROJECT, "Each locked package and its library."),
                        **_errors(400, 401, 403, 413, 429, 502, 503),
                    },
                }
            },
            "/api/v1/admin/jobs": {
                "get": {
                    "summary": "List ingestion jobs (admin)",
                    "operationId": "listJobs",
                    "parameters": [
                        _param("libraryId", "Only this library's jobs."),
                        _param(
                            "state",
                            "queued, running, succeeded, failed or cancelled.",
                            schema={
                                "type": "string",
                                "enum": ["queued", "running", "succeeded", "failed", "cancelled"],
                            },
                        ),
                        _param(
                            "limit",
                            "At most this many (1..500).",
                            schema={"type": "integer", "minimum": 1, "maximum": 500},
                        ),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["jobs"],
                                "properties": {
                                    "jobs": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Job"},
                                    }
                                },
                            },
                            "Jobs, newest first.",
                        ),
                        **_ADMIN_ERRORS,
                    },
                }
            },
            "/api/v1/admin/jobs/{jobId}": {
                "get": {
                    "summary": "One ingestion job (admin)",
                    "operationId": "getJob",
                    "parameters": [_path("jobId", "Job ID.")],
                    "responses": {"200": _JOB_RESPONSE, **_ADMIN_ERRORS},
                }
            },
            "/api/v1/admin/jobs/{jobId}/cancel": {
                "post": {
                    "summary": "Cancel an ingestion job (admin)",
                    "operationId": "cancelJob",
                    "parameters": [_path("jobId", "Job ID.")],
                    "responses": {"200": _JOB_RESPONSE, **_ADMIN_ERRORS},
                }
            },
            "/api/v1/account/keys": {
                "get": {
                    "summary": "The caller's API keys",
                    "operationId": "listKeys",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["keys"],
                                "properties": {
                                    "keys": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/ApiKey"},
                                    }
                                },
                            },
                            "Keys (never their secrets).",
                        ),
                        **_ADMIN_ERRORS,
                    },
                },
                "post": {
                    "summary": "Create an API key; the secret is shown once",
                    "description": (
                        "Each requested scope must be one the calling key or session holds "
                        "('admin' includes 'read'), else 403 naming the scopes it lacks."
                    ),
                    "operationId": "createKey",
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "name": {"type": "string"},
                                        "scopes": {"type": "array", "items": {"type": "string"}},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["key", "secret"],
                                "properties": {
                                    "key": {"$ref": "#/components/schemas/ApiKey"},
                                    "secret": {"type": "string"},
                                },
                            },
                            "The new key and its secret.",
                        ),
                        **_ADMIN_ERRORS,
                    },
                },
            },
            "/api/v1/account/keys/{keyId}": {
                "delete": {
                    "summary": "Revoke an API key",
                    "operationId": "revokeKey",
                    "parameters": [_path("keyId", "Key ID.")],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {"key": {"$ref": "#/components/schemas/ApiKey"}},
                            },
                            "The revoked key.",
                        ),
                        **_ADMIN_ERRORS,
                    },
                }
            },
            "/api/v1/account/usage": {
                "get": {
                    "summary": "Requests per day and key",
                    "operationId": "getUsage",
                    "parameters": [
                        _param(
                            "days",
                            "How many days back (1..366).",
                            schema={"type": "integer", "minimum": 1, "maximum": 366},
                        ),
                        _param("keyId", "Only this key."),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["days"],
                                "properties": {
                                    "days": {"type": "array", "items": {"type": "object"}}
                                },
                            },
                            "Usage.",
                        ),
                        **_ADMIN_ERRORS,
                    },
                }
            },
            "/auth/github/login": {
                "get": {
                    "summary": "Start GitHub sign-in (redirects to GitHub)",
                    "operationId": "githubLogin",
                    "security": [],
                    "responses": {
                        "302": {"description": "Redirect to GitHub."},
                        **_errors(502, 503),
                    },
                }
            },
            "/auth/github/callback": {
                "get": {
                    "summary": "Finish GitHub sign-in",
                    "operationId": "githubCallback",
                    "security": [],
                    "parameters": [
                        _param("code", "Authorization code from GitHub.", required=True),
                        _param("state", "State from the login step.", required=True),
                    ],
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["tokens", "user"]},
                            "Session tokens and the user.",
                        ),
                        **_errors(400, 401, 404, 409, 429, 502, 503),
                    },
                }
            },
            "/auth/refresh": {
                "post": {
                    "summary": "Exchange a refresh token for new session tokens",
                    "operationId": "refreshSession",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["refreshToken"],
                                    "properties": {"refreshToken": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json({"type": "object", "required": ["tokens"]}, "New tokens."),
                        **_errors(400, 401, 404, 409, 429, 502, 503),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "suggestions": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "With 'not_found' for a library: indexed library "
                            "IDs close to the one asked for, best first.",
                        },
                        "availableVersions": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "With 'version_not_found': the library's indexed "
                            "versions, the default first.",
                        },
                        "registryReleases": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "With 'version_not_found' for a library ingested "
                            "from a package registry: the registry's releases that fit the "
                            "version asked (a name, semver range or PEP 440 specifier), best "
                            "first.",
                        },
                        "ingestSource": {
                            "type": "string",
                            "description": "With 'version_not_found': the source that ingests "
                            "the first of registryReleases (`twinmcp ingest <it>`), else empty.",
                        },
                    },
                },
                "Ready": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ready", "not_ready", "draining"]},
                        "peers": {"type": "object", "additionalProperties": {"type": "string"}},
                        "rateLimiter": {"type": "string", "enum": ["ok", "degraded", "unknown"]},
                    },
                },
                "HealthDetail": {
                    "type": "object",
                    "required": ["status", "ready", "draining", "peers", "rateLimiter"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "degraded"]},
                        "ready": {"type": "boolean"},
                        "draining": {"type": "boolean"},
                        "peers": {"type": "object", "additionalProperties": {"type": "string"}},
                        "rateLimiter": {"type": "string", "enum": ["ok", "degraded", "unknown"]},
                    },
                },
                "Library": {
                    "type": "object",
                    "required": [
                        "id",
                        "title",
                        "description",
                        "branch",
                        "state",
                        "totalTokens",
                        "totalSnippets",
                        "trustScore",
                        "versions",
                    ],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "branch": {"type": "string"},
                        "lastUpdateDate": {"type": "string"},
                        "state": {
                            "type": "string",
                            "enum": ["initial", "finalized", "error", "delete"],
                        },
                        "totalTokens": {"type": "integer"},
                        "totalSnippets": {"type": "integer"},
                        "stars": {"type": "integer"},
                        "trustScore": {"type": "number"},
                        "versions": {"type": "array", "items": {"type": "string"}},
                        "source": {"type": "string"},
                        "packages": {
                            "type": "array",
                            "description": "the packages it documents, per registry",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "registry": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            },
                        },
                        "aliases": {"type": "array", "items": {"type": "string"}},
                        "documented": {
                            "type": "boolean",
                            "description": "false: no documentation is indexed (a catalog "
                            "entry); `note` says how to ingest it",
                        },
                        "note": {"type": "string"},
                    },
                },
                "SearchResults": {
                    "type": "object",
                    "required": ["results"],
                    "properties": {
                        "results": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Library"},
                        }
                    },
                },
                "Snippet": {
                    "type": "object",
                    "required": ["kind", "title", "content", "tokens", "source"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["code", "info"]},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "language": {"type": "string"},
                        "content": {"type": "string"},
                        "tokens": {"type": "integer"},
                        "breadcrumb": {"type": "array", "items": {"type": "string"}},
                        "source": {
                            "type": "object",
                            "properties": {
                                "path": {"type": "string"},
                                "url": {"type": "string"},
                                "anchor": {"type": "string"},
                            },
                        },
                    },
                },
                "Context": {
                    "type": "object",
                    "required": [
                        "libraryId",
                        "version",
                        "snippets",
                        "codeSnippets",
                        "infoSnippets",
                    ],
                    "properties": {
                        "libraryId": {"type": "string"},
                        "title": {"type": "string"},
                        "version": {"type": "string"},
                        "availableVersions": {"type": "array", "items": {"type": "string"}},
                        "rules": {"type": "array", "items": {"type": "string"}},
                        "withheldSnippets": {
                            "type": "integer",
                            "description": "matching snippets left out as suspected prompt "
                            "injection (text aimed at AI agents)",
                        },
                        "tokens": {"type": "integer"},
                        "snippets": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Snippet"},
                        },
                        "codeSnippets": {"type": "array", "items": {"type": "object"}},
                        "infoSnippets": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "DocsSearch": {
                    "type": "object",
                    "required": ["libraries", "tokens", "snippets"],
                    "properties": {
                        "libraries": {
                            "type": "array",
                            "description": "the libraries searched, best match first",
                            "items": {
                                "type": "object",
                                "required": ["id", "version", "relevance", "reason"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "title": {"type": "string"},
                                    "version": {"type": "string"},
                                    "relevance": {
                                        "type": "number",
                                        "description": "how well its documentation answers, "
                                        "relative to the best library (1.0)",
                                    },
                                    "reason": {
                                        "type": "string",
                                        "enum": ["hint", "named", "content"],
                                        "description": "asked for; named in the question; "
                                        "chosen for its documentation's words",
                                    },
                                    "availableVersions": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                    },
                                    "rules": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        },
                        "withheldSnippets": {"type": "integer"},
                        "tokens": {"type": "integer"},
                        "snippets": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Snippet"},
                                    {
                                        "type": "object",
                                        "required": ["libraryId", "version", "score"],
                                        "properties": {
                                            "libraryId": {"type": "string"},
                                            "version": {"type": "string"},
                                            "score": {"type": "number"},
                                        },
                                    },
                                ]
                            },
                        },
                    },
                },
                "SourceSubmission": {
                    "type": "object",
                    "required": ["source"],
                    "properties": {
                        "source": {
                            "type": "string",
                            "description": "Folder, archive, GitHub/git URL, website or llms.txt.",
                        },
                        "libraryId": {"type": "string"},
                        "version": {"type": "string"},
                        "ref": {"type": "string"},
                        "maxPages": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                        "maxDepth": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                        "makeDefault": {"type": "boolean"},
                    },
                },
                "Job": {
                    "type": "object",
                    "required": ["jobId", "state"],
                    "properties": {
                        "jobId": {"type": "string"},
                        "libraryId": {"type": "string"},
                        "version": {"type": "string"},
                        "source": {"type": "string"},
                        "state": {
                            "type": "string",
                            "enum": [
                                "unspecified",
                                "queued",
                                "running",
                                "succeeded",
                                "failed",
                                "cancelled",
                            ],
                        },
                        "progress": {"type": "object"},
                        "error": {"type": "string"},
                        "createdAt": {"type": "string"},
                        "startedAt": {"type": "string"},
                        "finishedAt": {"type": "string"},
                        "attempts": {"type": "integer"},
                    },
                },
                "ApiKey": {
                    "type": "object",
                    "required": ["keyId", "prefix"],
                    "properties": {
                        "keyId": {"type": "string"},
                        "prefix": {"type": "string"},
                        "name": {"type": "string"},
                        "scopes": {"type": "array", "items": {"type": "string"}},
                        "isRevoked": {"type": "boolean"},
                        "userId": {"type": "string"},
                    },
                },
            },
        },
    }
