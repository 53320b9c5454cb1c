"""The gateway's one error tree: input a caller can fix, and what its peers refused, with the one
table turning a peer's gRPC status into the latter.

    GatewayError                         `status`, `code`, `message`: what REST answers
    ├── InputError (400 bad_request)     input the caller can fix, found at the edge
    └── PeerError (502 upstream_error)   a peer failed in a way the caller cannot fix
        ├── PeerUnavailable (503)        no answer in time: retry shortly (Retry-After)
        ├── NotFound (404)
        ├── InvalidArgument (400)
        ├── Unauthenticated (401)
        ├── Forbidden (403)
        ├── Conflict (409)
        └── RateLimited (429)

REST renders every one as `{"error": code, "message": text}` in one place (error_middleware,
middleware.py). MCP answers an InputError or a peer's refusal as a tool result with isError
(tools.py, mcp.py); an error before the tool runs is a JSON-RPC error. A missing library or
version is not an error here: search's refusal of a documentation lookup becomes a
`LibraryUnknown` / `VersionMissing` answer (clients/search.py).
"""

from __future__ import annotations

import logging

import grpc

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """An error with its answer: `status` is the HTTP status, `code` the REST error code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(GatewayError, ValueError):
    """Raise when what the caller sent cannot be used: a parameter, body field or tool argument
    missing, of the wrong type, over its cap (arguments.LIMITS) or not Unicode, a body that is
    not a JSON object, a `project` that is neither a name nor a manifest. The message names the
    argument and says what to send. Checked at the edge, before any peer is asked; a ValueError,
    as a wrong value is."""

    status = 400
    code = "bad_request"


class PeerError(GatewayError):
    """A peer service refused or failed a call; `status` is the HTTP status to answer with."""

    status = 502
    code = "upstream_error"

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service


class PeerUnavailable(PeerError):
    """The peer did not answer in time, or is down: the caller may retry shortly."""

    status = 503
    code = "service_unavailable"


class NotFound(PeerError):
    status = 404
    code = "not_found"


class InvalidArgument(PeerError):
    status = 400
    code = "invalid_argument"


class Unauthenticated(PeerError):
    status = 401
    code = "unauthenticated"


class Forbidden(PeerError):
    status = 403
    code = "forbidden"


class Conflict(PeerError):
    status = 409
    code = "conflict"


class RateLimited(PeerError):
    status = 429
    code = "rate_limited"


# Where this table leaves googleapis' canonical HTTP mapping (google/rpc/code.proto), on purpose:
# - DEADLINE_EXCEEDED is 503, not 504: the deadline is the gateway's own (GRPC_DEADLINE_SECONDS),
#   so it means a peer too busy to answer, which a caller should retry after Retry-After, exactly
#   as for UNAVAILABLE; one retryable status keeps clients and the MCP error path simple.
# - FAILED_PRECONDITION is 409, not 400: what still reaches this table is a resource's state
#   refusing a well-formed request (following a library no registry publishes, a build already
#   aborted), which sending the same request again will not fix. A missing version never gets
#   here: search's refusal of a lookup is an answer (clients/search.py).
_ERRORS: dict[grpc.StatusCode, type[PeerError]] = {
    grpc.StatusCode.UNAVAILABLE: PeerUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: PeerUnavailable,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.FAILED_PRECONDITION: Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
}


def translate(service: str, error: grpc.aio.AioRpcError) -> PeerError:
    """The gateway's error for `service`'s refusal; a failure the caller cannot act on is
    logged here and answered without the peer's details."""
    kind = _ERRORS.get(error.code(), PeerError)
    if kind is PeerUnavailable:
        return PeerUnavailable(service, f"{service} service unavailable, retry shortly")
    detail = error.details() or error.code().name
    if kind is PeerError:
        logger.warning("%s answered %s: %s", service, error.code().name, detail)
        return PeerError(service, f"{service} service failed ({error.code().name}); retry later")
    return kind(service, detail)
