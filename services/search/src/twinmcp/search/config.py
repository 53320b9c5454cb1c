"""Settings of the search service, read from the environment once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twinmcp.database import database_pool_size, database_url
from twinmcp.runtime.settings import (
    Secret,
    SettingsError,
    env_float,
    env_int,
    env_optional,
    env_port,
    env_secret,
    env_str,
    env_url,
)


@dataclass(frozen=True)
class Settings:
    grpc_port: int
    metrics_port: int
    database_url: str
    database_pool_size: int
    redis_url: str | None
    redis_cache_ttl: int
    redis_key_prefix: str
    pinecone_api_key: Secret | None
    pinecone_host: str
    pinecone_index_name: str
    pinecone_controller_host: str
    # Kept so existing deployment secrets keep working: serverless indexes are found by name or
    # host, and the environment only labels the index in logs.
    pinecone_environment: str
    index_cache_mb: int
    answer_cache_mb: int
    drain_seconds: float
    grace_seconds: float
    # How often the database is read to keep health true to it (NOT_SERVING when it cannot be).
    health_probe_seconds: float
    host: str
    env: Mapping[str, str]  # handed to create_embedder and create_engine
    # Allocations from this size up get their own mmap, returned to the system when freed
    # (heap.fix_mmap_threshold); 0 leaves glibc's own sliding threshold.
    malloc_mmap_threshold_kb: int = 128

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        pinecone_key = env_secret(env, "PINECONE_API_KEY")
        pinecone_host = env_optional(env, "PINECONE_HOST") or ""
        pinecone_index = env_optional(env, "PINECONE_INDEX_NAME") or ""
        if pinecone_key and not (pinecone_host or pinecone_index):
            raise SettingsError(
                "PINECONE_API_KEY is set but neither PINECONE_HOST nor PINECONE_INDEX_NAME is; "
                "name the index to use"
            )
        return cls(
            grpc_port=env_port(env, "SEARCH_GRPC_PORT", 50052),
            metrics_port=env_int(env, "SEARCH_METRICS_PORT", 9102, minimum=-1, maximum=65535),
            database_url=database_url(env, "search"),
            database_pool_size=database_pool_size(env),
            redis_url=env_url(env, "REDIS_URL", schemes=("redis", "rediss", "unix")),
            redis_cache_ttl=env_int(env, "REDIS_CACHE_TTL", 3600, minimum=1),
            redis_key_prefix=env_str(env, "SEARCH_CACHE_PREFIX", "twinmcp:search:"),
            pinecone_api_key=pinecone_key,
            pinecone_host=pinecone_host,
            pinecone_index_name=pinecone_index,
            pinecone_controller_host=env_optional(env, "PINECONE_CONTROLLER_HOST") or "",
            pinecone_environment=env_optional(env, "PINECONE_ENVIRONMENT") or "",
            index_cache_mb=env_int(env, "SEARCH_INDEX_CACHE_MB", 512, minimum=16),
            answer_cache_mb=env_int(env, "SEARCH_ANSWER_CACHE_MB", 64, minimum=1),
            drain_seconds=env_float(env, "SHUTDOWN_DRAIN_SECONDS", 0.0, minimum=0.0),
            grace_seconds=env_float(env, "SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0.0),
            health_probe_seconds=env_float(env, "SEARCH_HEALTH_PROBE_SECONDS", 15.0, minimum=0.01),
            host=env_str(env, "SEARCH_GRPC_HOST", "0.0.0.0"),
            env=dict(env),
            malloc_mmap_threshold_kb=env_int(
                env, "SEARCH_MALLOC_MMAP_THRESHOLD_KB", 128, minimum=0, maximum=32 * 1024
            ),
        )

    def __repr__(self) -> str:
        return (
            f"Settings(grpc_port={self.grpc_port}, metrics_port={self.metrics_port}, "
            f"redis={'on' if self.redis_url else 'off'}, "
            f"pinecone={'on' if self.pinecone_api_key else 'off'})"
        )
