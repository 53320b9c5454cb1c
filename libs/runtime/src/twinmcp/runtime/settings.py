"""Reading typed settings from an environment mapping; the one place env values are parsed."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and what to do."""


@dataclass(frozen=True)
class Secret:
    """A value that must never appear in a repr, a log line or an error message."""

    value: str

    def get(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


def environ() -> Mapping[str, str]:
    """The process environment; only `__main__` modules and the CLI should call this."""
    return dict(os.environ)


def env_str(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise SettingsError(f"{name} is required but not set; set it in the environment or .env")
    return default


def env_optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def env_secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env_optional(env, name)
    return Secret(value) if value else None


def env_int(
    env: Mapping[str, str],
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={value} is above the maximum of {maximum}")
    return value


def env_float(
    env: Mapping[str, str], name: str, default: float, *, minimum: float | None = None
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean; use true or false")


def env_port(env: Mapping[str, str], name: str, default: int) -> int:
    """A TCP port; 0 asks the OS for a free one (tests)."""
    return env_int(env, name, default, minimum=0, maximum=65535)


def env_url(
    env: Mapping[str, str], name: str, *, schemes: Iterable[str], default: str | None = None
) -> str | None:
    """A URL with one of the given schemes and a host (or a path for file-like schemes)."""
    raw = env.get(name, "").strip() or default
    if not raw:
        return None
    allowed = tuple(schemes)
    try:
        parts = urlsplit(raw)
        _ = parts.port  # raises on a port out of range or not a number
    except ValueError as exc:
        raise SettingsError(f"{name} is not a valid URL: {exc}") from None
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in allowed:
        raise SettingsError(
            f"{name} has scheme {parts.scheme!r}; expected one of {', '.join(allowed)}"
        )
    if not parts.netloc and not parts.path:
        raise SettingsError(f"{name} is not a valid URL: it has no host or path")
    return raw


def env_address(env: Mapping[str, str], name: str, default: str) -> str:
    """A gRPC target: `127.0.0.1:50051`, `dns:///search:50051`, or several addresses a client
    balances over itself, `ipv4:127.0.0.1:50052,127.0.0.1:50062` (gRPC's multi-address form)."""
    raw = env.get(name, "").strip() or default
    target = raw.split("///", 1)[-1]
    scheme, sep, rest = target.partition(":")
    addresses = rest.split(",") if sep and scheme in ("ipv4", "ipv6") else [target]
    for address in addresses:
        if scheme == "ipv6" and address.startswith("["):
            host, sep, port = address.removeprefix("[").partition("]:")
        else:
            host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise SettingsError(
                f"{name}={raw!r} is not a host:port address (several replicas: "
                "ipv4:127.0.0.1:50052,127.0.0.1:50062)"
            )
    return raw


def data_dir(env: Mapping[str, str]) -> Path:
    """Where embedded backends keep their files (SQLite, raw documents, the local vector index)."""
    path = Path(env_str(env, "TWINMCP_DATA_DIR", ".data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
