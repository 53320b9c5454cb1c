"""Domain errors of the auth service; service.py maps each to one gRPC status code."""

from __future__ import annotations


class AuthError(Exception):
    """Base of every error whose message is safe to show the caller."""


class InvalidArgumentError(AuthError):
    """The request is malformed; the message says what to change."""


class NotFoundError(AuthError):
    """A user or key named in the request does not exist."""


class AlreadyExistsError(AuthError):
    """Creating something whose unique name is taken."""


class UnauthenticatedError(AuthError):
    """A credential is unknown, revoked, forged, expired or malformed."""


class PermissionDeniedError(AuthError):
    """The caller's credential is valid but does not allow what it asks for."""


class FailedPreconditionError(AuthError):
    """The request is well formed but the system is not in a state to honour it."""


class UpstreamUnavailableError(AuthError):
    """GitHub (or another upstream) did not answer; retrying later may work."""
