"""Where the CLI finds the services; the only CLI code that reads the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twinmcp.runtime.settings import env_address, env_float, env_port


@dataclass(frozen=True)
class CliSettings:
    auth_addr: str
    search_addr: str
    ingest_addr: str
    gateway_port: int
    deadline_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CliSettings:
        return cls(
            auth_addr=env_address(env, "AUTH_ADDR", "127.0.0.1:50051"),
            search_addr=env_address(env, "SEARCH_ADDR", "127.0.0.1:50052"),
            ingest_addr=env_address(env, "INGEST_ADDR", "127.0.0.1:50053"),
            gateway_port=env_port(env, "PORT", 3000),
            deadline_seconds=env_float(env, "TWINMCP_CLI_DEADLINE_SECONDS", 30.0, minimum=0.1),
        )
