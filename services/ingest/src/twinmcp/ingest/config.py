"""Ingest settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from twinmcp.database import database_pool_size, database_url
from twinmcp.runtime.settings import (
    Secret,
    SettingsError,
    data_dir,
    env_address,
    env_bool,
    env_float,
    env_int,
    env_optional,
    env_port,
    env_secret,
    env_str,
    env_url,
)


@dataclass(frozen=True)
class Limits:
    """What a source may weigh before it is refused or trimmed."""

    max_file_bytes: int = 2 * 1024 * 1024
    max_archive_bytes: int = 512 * 1024 * 1024
    max_archive_files: int = 20_000
    max_compression_ratio: int = 200
    max_download_bytes: int = 200 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    max_pages: int = 200
    max_depth: int = 5
    max_redirects: int = 5
    http_timeout: float = 30.0
    # Jobs waiting for a worker: a flood of submissions is refused instead of queued for days.
    max_queued_jobs: int = 100
    max_queued_jobs_per_library: int = 10


@dataclass(frozen=True)
class Settings:
    grpc_port: int = 50053
    host: str = "0.0.0.0"  # INGEST_GRPC_HOST: the address the gRPC server listens on
    metrics_port: int = 9103
    drain_seconds: float = 0.0
    grace_seconds: float = 10.0
    database_url: str = field(default="", repr=False)  # may hold a password
    database_pool_size: int = 10
    data_dir: Path = Path(".data")
    search_addr: str = "127.0.0.1:50052"
    workers: int = 1
    lease_seconds: float = 60.0
    heartbeat_seconds: float = 5.0
    poll_seconds: float = 1.0
    max_attempts: int = 3
    # How often followed libraries' registries are asked for new releases; 0: never here.
    follow_interval_seconds: float = 21600.0
    github_api_url: str = "https://api.github.com"
    github_token: Secret | None = None
    # Package registries for pypi:/npm: sources; "" asks pip's and npm's own configuration.
    pypi_index_url: str = ""
    npm_registry_url: str = ""
    allow_private_networks: bool = False
    git_ca_file: Path | None = None
    # Folders under which local folder and archive sources may be read; none: local sources off.
    local_roots: tuple[Path, ...] = ()
    limits: Limits = field(default_factory=Limits)
    s3_bucket: str | None = None
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: Secret | None = None
    openai_api_key: Secret | None = None
    openai_base_url: str | None = None
    enrich_model: str = ""
    # The embedding settings are handed to twinmcp.embedding.create_embedder as they are.
    # Holds OPENAI_API_KEY: never in the repr (Sentry captures local variables).
    embedding_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    index_timeout: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        lease = env_float(env, "INGEST_LEASE_SECONDS", 60.0, minimum=1.0)
        heartbeat = env_float(env, "INGEST_HEARTBEAT_SECONDS", min(5.0, lease / 3), minimum=0.05)
        if heartbeat >= lease:
            raise SettingsError(
                f"INGEST_HEARTBEAT_SECONDS={heartbeat} must be shorter than "
                f"INGEST_LEASE_SECONDS={lease}"
            )
        limits = Limits(
            max_file_bytes=env_int(env, "INGEST_MAX_FILE_BYTES", Limits.max_file_bytes, minimum=1),
            max_archive_bytes=env_int(
                env, "INGEST_MAX_ARCHIVE_BYTES", Limits.max_archive_bytes, minimum=1
            ),
            max_archive_files=env_int(
                env, "INGEST_MAX_ARCHIVE_FILES", Limits.max_archive_files, minimum=1
            ),
            max_pages=env_int(env, "INGEST_MAX_PAGES", Limits.max_pages, minimum=1),
            max_depth=env_int(env, "INGEST_MAX_DEPTH", Limits.max_depth, minimum=0),
            max_queued_jobs=env_int(
                env, "INGEST_MAX_QUEUED_JOBS", Limits.max_queued_jobs, minimum=1
            ),
            max_queued_jobs_per_library=env_int(
                env,
                "INGEST_MAX_QUEUED_JOBS_PER_LIBRARY",
                Limits.max_queued_jobs_per_library,
                minimum=1,
            ),
        )
        embedding_keys = (
            "EMBEDDING_PROVIDER",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "OPENAI_EMBEDDING_MODEL",
            "OPENAI_EMBEDDING_DIMENSIONS",
            "EMBEDDING_LOCAL_PRECISION",
            "EMBEDDING_LOCAL_MAX_TOKENS",
            "EMBEDDING_CACHE_DIR",
            "TWINMCP_DATA_DIR",
        )
        embedding_env = {key: env[key] for key in embedding_keys if env.get(key, "").strip()}
        provider = embedding_env.get("EMBEDDING_PROVIDER", "auto").strip().lower()
        if provider not in {"auto", "openai", "local", "none"}:
            raise SettingsError(
                f"EMBEDDING_PROVIDER={provider!r} is not one of auto, openai, local, none"
            )
        return cls(
            grpc_port=env_port(env, "INGEST_GRPC_PORT", 50053),
            host=env_str(env, "INGEST_GRPC_HOST", "0.0.0.0"),
            metrics_port=env_int(env, "INGEST_METRICS_PORT", 9103, minimum=-1, maximum=65535),
            drain_seconds=env_float(env, "SHUTDOWN_DRAIN_SECONDS", 0.0, minimum=0.0),
            grace_seconds=env_float(env, "SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0.0),
            database_url=database_url(env, "ingest"),
            database_pool_size=database_pool_size(env),
            data_dir=data_dir(env),
            search_addr=env_address(env, "SEARCH_ADDR", "127.0.0.1:50052"),
            workers=env_int(env, "INGEST_WORKERS", 1, minimum=0, maximum=64),
            lease_seconds=lease,
            heartbeat_seconds=heartbeat,
            poll_seconds=env_float(env, "INGEST_POLL_SECONDS", 1.0, minimum=0.01),
            max_attempts=env_int(env, "INGEST_MAX_ATTEMPTS", 3, minimum=1, maximum=100),
            follow_interval_seconds=env_float(
                env, "INGEST_FOLLOW_INTERVAL_SECONDS", 21600.0, minimum=0.0
            ),
            github_api_url=(
                env_url(
                    env,
                    "GITHUB_API_URL",
                    schemes=("http", "https"),
                    default="https://api.github.com",
                )
                or "https://api.github.com"
            ).rstrip("/"),
            github_token=env_secret(env, "GITHUB_TOKEN"),
            pypi_index_url=env_url(env, "PYPI_INDEX_URL", schemes=("http", "https")) or "",
            npm_registry_url=env_url(env, "NPM_REGISTRY_URL", schemes=("http", "https")) or "",
            allow_private_networks=env_bool(env, "INGEST_ALLOW_PRIVATE_NETWORKS", False),
            local_roots=local_roots(env),
            git_ca_file=_existing_file(env, "INGEST_GIT_CA_FILE"),
            limits=limits,
            s3_bucket=env_optional(env, "AWS_S3_BUCKET"),
            aws_region=env_optional(env, "AWS_REGION"),
            aws_endpoint_url=env_url(env, "AWS_ENDPOINT_URL", schemes=("http", "https")),
            aws_access_key_id=env_optional(env, "AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env_secret(env, "AWS_SECRET_ACCESS_KEY"),
            openai_api_key=env_secret(env, "OPENAI_API_KEY"),
            openai_base_url=env_url(env, "OPENAI_BASE_URL", schemes=("http", "https")),
            enrich_model=env_str(env, "INGEST_ENRICH_MODEL", "gpt-4o-mini"),
            embedding_env=embedding_env,
            index_timeout=env_float(env, "INGEST_INDEX_TIMEOUT", 60.0, minimum=1.0),
        )


def _existing_file(env: Mapping[str, str], name: str) -> Path | None:
    value = env_optional(env, name)
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise SettingsError(f"{name}={value!r} is not a file; give the path of a PEM bundle")
    return path


def local_roots(env: Mapping[str, str]) -> tuple[Path, ...]:
    """INGEST_LOCAL_ROOTS: absolute folders, separated by os.pathsep, resolved through links."""
    roots = []
    for raw in env.get("INGEST_LOCAL_ROOTS", "").split(os.pathsep):
        entry = raw.strip()
        if not entry:
            continue
        path = Path(entry).expanduser()
        if not path.is_absolute():
            raise SettingsError(
                f"INGEST_LOCAL_ROOTS holds {entry!r}, which is not an absolute path; "
                f"list absolute folders separated by {os.pathsep!r}"
            )
        roots.append(path.resolve())
    return tuple(roots)
