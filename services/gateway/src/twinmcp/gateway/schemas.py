"""The REST API's shapes as pydantic models: what callers may send (validated, with 400s that
name the parameter), what the gateway answers, and the OpenAPI components (openapi.py)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from multidict import MultiMapping
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError
from twinmcp.gateway.arguments import check_text, limit_for
from twinmcp.gateway.errors import InputError

INT32_MAX = 2**31 - 1
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


class Expect:
    """Field metadata: what a valid value is, for the 400 message ("'days' must be ...")."""

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase


class Repeated:
    """Field metadata: a query parameter that may repeat; its values are joined with commas."""


class Fallback:
    """Field metadata: other query parameter names read when the field's own is absent."""

    def __init__(self, *names: str) -> None:
        self.names = names


def _text_error(error: InputError) -> PydanticCustomError:
    # The message is whole already; the "{message}" template keeps pydantic from adding to it.
    return PydanticCustomError("bad_request", "{message}", {"message": str(error)})


def _publish_caps(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Each string field's cap (arguments.LIMITS) as maxLength, as it is enforced."""
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "string" and "enum" not in prop and "maxLength" not in prop:
            prop["maxLength"] = limit_for(name)


# -- requests ----------------------------------------------------------------------------------


class Params(BaseModel):
    """Query parameters: strings from the URL, checked against their caps and stripped."""

    model_config = ConfigDict(frozen=True, json_schema_extra=_publish_caps)


class Body(BaseModel):
    """A JSON body: types are strict (no "3" for 3, no 1 for true); strings capped, stripped."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_extra=_publish_caps)

    @field_validator("*", mode="before")
    @classmethod
    def _text_is_capped_unicode(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and info.field_name is not None:
            try:
                return check_text(info.field_name, value).strip()
            except InputError as error:
                raise _text_error(error) from None
        return value


RequiredText = Annotated[StrictStr, Field(min_length=1)]
Kind = Annotated[Literal["txt", "json"], Field(description="Answer format.")]
Tokens = Annotated[
    int | None,
    Field(
        ge=0,
        le=999_999_999,  # 9 digits, as the tools' TokenPolicy takes
        description="Token budget (default 5000, capped at 25000, raised to at least 500).",
    ),
    Expect("a whole number, e.g. 5000"),
    WithJsonSchema({"type": "integer"}),
]


PROJECT_DESCRIPTION = (
    "The caller's project, so answers are for the versions it locks: the name of a project "
    "registered with POST /api/v1/admin/projects (or `twinmcp sync`), or the whole text of ONE "
    "of its lockfiles or manifests (package-lock.json, package.json, pnpm-lock.yaml, yarn.lock, "
    "uv.lock, poetry.lock, Pipfile.lock, Pipfile, pyproject.toml, requirements.txt; the format "
    "is recognised from the text; at most 1,000,000 characters)."
)


class LibrarySearchParams(Params):
    libraryName: Annotated[
        str, Field(description="Library name, e.g. 'fastapi'."), Fallback("query")
    ]
    query: Annotated[str, Field(description="What the user wants to do; ranks the candidates.")] = (
        ""
    )
    project: Annotated[
        str,
        Field(
            description=PROJECT_DESCRIPTION
            + " Each result then says the version it locks (`lockedVersion`). A lockfile "
            "rarely fits in a URL: send it with POST."
        ),
    ] = ""


class LibrarySearchBody(Body):
    """POST /api/v2/libs/search: the query parameters as a JSON body, for a lockfile."""

    libraryName: Annotated[RequiredText, Field(description="Library name, e.g. 'fastapi'.")]
    query: Annotated[
        StrictStr, Field(description="What the user wants to do; ranks the candidates.")
    ] = ""
    project: Annotated[
        StrictStr,
        Field(description=PROJECT_DESCRIPTION + " Each result then says the version it locks."),
    ] = ""


class LibrarySearchV1Params(Params):
    query: Annotated[str, Field(description="Library name.")]


class ContextParams(Params):
    libraryId: Annotated[
        str,
        Field(
            description="Library ID such as '/fastapi/fastapi' or '/fastapi/fastapi/0.110.0'.",
        ),
        Fallback("library_id"),
    ]
    query: Annotated[str, Field(description="The question."), Fallback("topic")] = ""
    tokens: Tokens = None
    type: Kind = "txt"
    project: Annotated[
        str,
        Field(
            description=PROJECT_DESCRIPTION
            + " Without a version in libraryId, the answer is for the version it locks, and "
            "says so. A lockfile rarely fits in a URL: send it with POST."
        ),
    ] = ""

    @field_validator("libraryId")
    @classmethod
    def _looks_like_an_id(cls, value: str) -> str:
        return _library_id(value)


def _library_id(value: str) -> str:
    if not value.startswith("/"):
        raise PydanticCustomError("bad_request", "'libraryId' must look like '/org/project'")
    return value


class ContextBody(Body):
    """POST /api/v2/context: the query parameters as a JSON body, for a lockfile."""

    libraryId: Annotated[
        RequiredText,
        Field(description="Library ID such as '/fastapi/fastapi' or '/fastapi/fastapi/0.110.0'."),
    ]
    query: Annotated[StrictStr, Field(description="The question.")] = ""
    tokens: Annotated[
        StrictInt | None,
        Field(
            ge=0,
            le=999_999_999,
            description="Token budget (default 5000, capped at 25000, raised to at least 500).",
        ),
        Expect("a whole number, e.g. 5000"),
    ] = None
    type: Kind = "txt"
    project: Annotated[
        StrictStr,
        Field(
            description=PROJECT_DESCRIPTION
            + " Without a version in libraryId, the answer is for the version it locks, and "
            "says so."
        ),
    ] = ""

    @field_validator("libraryId")
    @classmethod
    def _looks_like_an_id(cls, value: str) -> str:
        return _library_id(value)


class ContextV1Params(Params):
    topic: Annotated[str, Field(description="What to focus on."), Fallback("query")] = ""
    tokens: Tokens = None
    type: Kind = "txt"


class DocsSearchParams(Params):
    query: Annotated[str, Field(description="The question.")]
    libraries: Annotated[
        str,
        Field(
            description="Up to 4 library IDs or names, comma-separated (or the parameter "
            "repeated), e.g. 'fastapi,/encode/httpx'. Each is capped."
        ),
        Repeated(),
    ] = ""
    version: Annotated[str, Field(description="A version of the one library in 'libraries'.")] = ""
    language: Annotated[
        str,
        Field(
            description="Keep code snippets in this language only: python, javascript "
            "(typescript), go, rust, java, ... Shell and configuration snippets stay; without "
            "'libraries', so do only libraries for it."
        ),
    ] = ""
    tokens: Tokens = None
    type: Kind = "txt"
    project: Annotated[
        str,
        Field(
            description=PROJECT_DESCRIPTION
            + " Each library is then searched at the version it locks, where indexed "
            "(`lockedVersion`)."
        ),
    ] = ""


class JobsParams(Params):
    libraryId: Annotated[str, Field(description="Only this library's jobs.")] = ""
    state: Annotated[
        tuple[str, ...],
        Field(description="queued, running, succeeded, failed or cancelled."),
        Repeated(),
        WithJsonSchema({"type": "string", "enum": list(JOB_STATES)}),
    ] = ()
    limit: Annotated[
        int,
        Field(ge=1, le=500, description="At most this many (1..500)."),
        Expect("a whole number from 1 to 500"),
    ] = 50

    @field_validator("state", mode="before")
    @classmethod
    def _known_states(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        names = tuple(name.strip().lower() for name in value.split(","))
        for name in names:
            if name not in JOB_STATES:
                raise PydanticCustomError(
                    "bad_request",
                    "unknown state {name}; use queued, running, succeeded, failed, cancelled",
                    {"name": repr(name)},
                )
        return names


class UsageParams(Params):
    days: Annotated[
        int,
        Field(ge=1, le=366, description="How many days back (1..366)."),
        Expect("a whole number from 1 to 366"),
    ] = 30
    keyId: Annotated[str, Field(description="Only this key.")] = ""


class SignInParams(Params):
    code: Annotated[str, Field(description="Authorization code from GitHub.")]
    state: Annotated[str, Field(description="State from the login step.")]


WholeNumber = Annotated[
    StrictInt, Field(ge=0, le=INT32_MAX), Expect(f"a whole number from 0 to {INT32_MAX}")
]


class SourceSubmission(Body):
    source: Annotated[
        RequiredText, Field(description="Folder, archive, GitHub/git URL, website or llms.txt.")
    ]
    libraryId: StrictStr = ""
    version: StrictStr = ""
    ref: StrictStr = ""
    maxPages: WholeNumber = 0
    maxDepth: WholeNumber = 0
    makeDefault: StrictBool = True


class RefreshRequest(Body):
    version: Annotated[StrictStr, Field(description="The version to ingest again.")] = ""


class ProjectRegistration(Body):
    """`name` and `files` are checked by rest_registry, whose checks the dashboard shares."""

    name: Annotated[object, WithJsonSchema({"type": "string", "maxLength": 100})] = ""
    files: Annotated[
        object,
        WithJsonSchema({"type": "object", "additionalProperties": {"type": "string"}}),
    ] = None
    transitive: StrictBool = False


class NewKeyRequest(Body):
    name: StrictStr = ""
    scopes: Annotated[list[StrictStr], Expect('a list of strings such as ["read"]')] = Field(
        default_factory=lambda: ["read"]
    )


class SessionRefresh(Body):
    refreshToken: RequiredText


# -- answers -----------------------------------------------------------------------------------


class Answer(BaseModel):
    """A response body; built from search's and peers' answers, dumped as JSON."""

    model_config = ConfigDict(frozen=True)


class Error(Answer):
    error: str
    message: str
    suggestions: list[str] | None = Field(
        default=None,
        description="With 'not_found' for a library: indexed library IDs close to the one "
        "asked for, best first.",
    )
    availableVersions: list[str] | None = Field(
        default=None,
        description="With 'version_not_found': the library's indexed versions, the default first.",
    )
    registryReleases: list[str] | None = Field(
        default=None,
        description="With 'version_not_found' for a library ingested from a package registry: "
        "the registry's releases that fit the version asked (a name, semver range or PEP 440 "
        "specifier), best first.",
    )
    ingestSource: str | None = Field(
        default=None,
        description="With 'version_not_found': the source that ingests the first of "
        "registryReleases (`twinmcp ingest <it>`), else empty.",
    )


PeerStates = dict[str, str]
LimiterState = Literal["ok", "degraded", "unknown"]


class Health(Answer):
    status: Literal["ok"] = "ok"


class Ready(Answer):
    status: Literal["ready", "not_ready", "draining"]
    peers: PeerStates | None = None
    rateLimiter: LimiterState | None = None


class HealthDetail(Answer):
    status: Literal["ok", "degraded"]
    ready: bool
    draining: bool
    peers: PeerStates
    rateLimiter: LimiterState


class PackageRef(Answer):
    registry: str
    name: str


class Library(Answer):
    """One result of /api/v2/libs/search, in Context7's shape."""

    id: str
    title: str
    description: str
    branch: str
    lastUpdateDate: str
    state: Literal["initial", "finalized", "error", "delete"]
    totalTokens: int
    totalSnippets: int
    stars: int
    trustScore: float
    versions: list[str]
    source: str
    packages: list[PackageRef] = Field(description="the packages it documents, per registry")
    aliases: list[str]
    documented: bool = Field(
        description="false: no documentation is indexed (a catalog entry); `note` says how to "
        "ingest it"
    )
    note: str | None = None
    lockedVersion: str | None = Field(
        default=None,
        description='with a `project`: the version it locks of this library, "" when it '
        "locks none of its packages (its default version is then served)",
    )


class SearchResults(Answer):
    results: list[Library]


class SnippetSource(Answer):
    path: str
    url: str
    anchor: str


class Snippet(Answer):
    kind: Literal["code", "info"]
    title: str
    description: str
    language: str
    content: str
    tokens: int
    breadcrumb: list[str]
    source: SnippetSource


class CodeListItem(Answer):
    language: str
    code: str


class CodeSnippet(Answer):
    """Context7's code entry: a code snippet again, under its field names."""

    codeTitle: str
    codeDescription: str
    codeLanguage: str
    codeTokens: int
    codeId: str
    pageTitle: str
    codeList: list[CodeListItem]


class InfoSnippet(Answer):
    """Context7's prose entry: an info snippet again, under its field names."""

    pageId: str
    breadcrumb: str
    content: str
    contentTokens: int


class Context(Answer):
    libraryId: str
    title: str
    version: str
    availableVersions: list[str]
    rules: list[str]
    withheldSnippets: int = Field(
        description="matching snippets left out as suspected prompt injection (text aimed at "
        "AI agents)"
    )
    tokens: int
    snippets: list[Snippet]
    codeSnippets: list[CodeSnippet]
    infoSnippets: list[InfoSnippet]
    lockedVersion: str | None = Field(
        default=None,
        description='with a `project`: the version it locks of this library, "" when it '
        "locks none of its packages",
    )
    projectNote: str | None = Field(
        default=None,
        description="with a `project`: the sentence saying which version it locks and which "
        "one answers (the text answer's second line)",
    )


class SearchedLibrary(Answer):
    id: str
    title: str
    version: str
    relevance: float = Field(
        description="how well its documentation answers, relative to the best library (1.0)"
    )
    # search's word, passed on: a new one must not turn an answer into a 500
    reason: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "enum": ["hint", "named", "project", "content"],
                "description": "asked for; named in the question; a dependency of the "
                "request's project; chosen for its documentation's words",
            }
        ),
    ]
    availableVersions: list[str]
    rules: list[str]
    lockedVersion: str | None = Field(
        default=None,
        description='with a `project`: the version it locks of this library, "" when it locks '
        "none; when it differs from `version`, that one is not indexed or another was asked",
    )


class SearchedSnippet(Snippet):
    libraryId: str
    version: str
    score: float


class DocsSearch(Answer):
    libraries: list[SearchedLibrary] = Field(description="the libraries searched, best match first")
    withheldSnippets: int
    tokens: int
    snippets: list[SearchedSnippet]


class ProjectPackage(Answer):
    registry: str
    name: str
    version: str
    libraryId: str
    isVersionIndexed: bool
    ingest: str = Field(description="what to run when the locked version is not indexed yet")


class UnlockedPackage(Answer):
    registry: str
    name: str
    declared: str
    foundIn: str


class Project(Answer):
    name: str
    packages: list[ProjectPackage]
    unlocked: list[UnlockedPackage]


# Peers' messages, as MessageToDict renders them (rest.proto_json): protobuf's JSON names, enum
# names, int64 as a string, unset messages left out. test_rest_shapes checks them against the
# protos.


class JobProgress(Answer):
    filesTotal: int = 0
    filesDone: int = 0
    filesSkipped: int = 0
    snippets: int = 0
    embeddings: int = 0
    phase: str = ""


class Job(Answer):
    jobId: str
    libraryId: str = ""
    version: str = ""
    source: str = ""
    state: Literal["unspecified", "queued", "running", "succeeded", "failed", "cancelled"]
    progress: JobProgress | None = None
    error: str = ""
    createdAt: str = ""
    startedAt: str = ""
    finishedAt: str = ""
    attempts: int = 0


class JobAnswer(Answer):
    job: Job


class Jobs(Answer):
    jobs: list[Job]


class FollowedLibrary(Answer):
    libraryId: str
    source: str = Field(description="The registry package, e.g. pypi:flask.")
    followedAt: str
    checkedAt: str
    newestRelease: str
    lastError: str
    queuedVersions: list[str]


class Followed(Answer):
    library: FollowedLibrary


class Follows(Answer):
    libraries: list[FollowedLibrary]


class ApiKey(Answer):
    keyId: str
    prefix: str
    name: str = ""
    scopes: list[str] = Field(default_factory=list)
    createdAt: str | None = None
    lastUsedAt: str | None = None
    isRevoked: bool = False
    userId: str = ""


class Keys(Answer):
    keys: list[ApiKey]


class NewKey(Answer):
    key: ApiKey
    secret: str


class RevokedKey(Answer):
    key: ApiKey


class UsageDay(Answer):
    date: str
    keyId: str
    requests: str = Field(description="a count, as a string (protobuf's JSON for int64)")


class Usage(Answer):
    days: list[UsageDay]


class SessionTokens(Answer):
    accessToken: str
    refreshToken: str
    expiresInSeconds: int


class User(Answer):
    userId: str
    login: str
    email: str = ""
    tier: str = ""
    createdAt: str | None = None
    isAdmin: bool = False


class SignIn(Answer):
    tokens: SessionTokens
    user: User


class Refreshed(Answer):
    tokens: SessionTokens


# -- validation --------------------------------------------------------------------------------

P = TypeVar("P", bound=BaseModel)


@cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, tuple[str, ...], bool], ...]:
    """(field, names read in order, is repeated) for each field of a query model."""
    out = []
    for name, field in model.model_fields.items():
        fallback = next((m.names for m in field.metadata if isinstance(m, Fallback)), ())
        repeated = any(isinstance(m, Repeated) for m in field.metadata)
        out.append((name, (name, *fallback), repeated))
    return tuple(out)


def params(model: type[P], query: MultiMapping[str]) -> P:
    """The query parameters of `model`: the first non-blank of each field's names, checked
    against its cap and stripped, then validated; InputError (a 400) when they do not fit."""
    raw: dict[str, str] = {}
    for field, names, is_repeated in _fields(model):
        for name in names:
            value = ",".join(query.getall(name, ())) if is_repeated else query.get(name, "")
            value = check_text(name, value).strip()
            if value:
                raw[field] = value
                break
    return validated(model, raw)


def validated(model: type[P], data: object) -> P:
    """`data` as `model`; InputError naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InputError(message_of(model, error)) from None


def message_of(model: type[BaseModel], error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] == "bad_request":
        return first["msg"]
    name = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] in ("missing", "string_too_short"):
        return f"'{name}' is required"
    field = model.model_fields.get(name)
    if field is None:
        return f"{name or 'the body'}: {first['msg']}"
    phrase = next((m.phrase for m in field.metadata if isinstance(m, Expect)), None)
    return f"'{name}' must be {phrase or _expected(model, name)}"


def _expected(model: type[BaseModel], name: str) -> str:
    schema = model.model_json_schema()["properties"][name]
    if "enum" in schema:
        return " or ".join(repr(value) for value in schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        return "a whole number"
    return {"boolean": "true or false", "array": "a list", "object": "an object"}.get(
        str(kind), "a string"
    )
