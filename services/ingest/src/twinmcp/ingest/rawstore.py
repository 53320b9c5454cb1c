"""Keeping the raw source files of each ingest: S3 (versioned bucket) or a local folder."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Protocol

from twinmcp.ingest.errors import SourceUnavailable

logger = logging.getLogger(__name__)


def raw_key(library_id: str, version: str, content_hash: str) -> str:
    return f"{library_id.strip('/')}/{version}/{content_hash}"


class RawStore(Protocol):
    async def put(self, library_id: str, version: str, content_hash: str, data: bytes) -> None: ...

    async def get(self, library_id: str, version: str, content_hash: str) -> bytes: ...


class LocalRawStore:
    """TWINMCP_DATA_DIR/raw/<library>/<version>/<sha256>; identical content is written once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, library_id: str, version: str, content_hash: str, data: bytes) -> None:
        path = self.root / raw_key(library_id, version, content_hash)
        if path.exists():
            return
        await asyncio.to_thread(self._write, path, data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        temporary.replace(path)

    async def get(self, library_id: str, version: str, content_hash: str) -> bytes:
        path = self.root / raw_key(library_id, version, content_hash)
        return await asyncio.to_thread(path.read_bytes)


class S3RawStore:
    """boto3 in a thread. The bucket is created with versioning on when missing."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    async def open(
        cls,
        bucket: str,
        *,
        region: str | None,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
    ) -> S3RawStore:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415  only with S3

        client = boto3.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )
        store = cls(client, bucket)
        await asyncio.to_thread(store._ensure_bucket, region)
        return store

    def _ensure_bucket(self, region: str | None) -> None:
        from botocore.exceptions import (  # type: ignore[import-untyped]  # noqa: PLC0415  only with S3
            BotoCoreError,
            ClientError,
        )

        try:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket"}:
                    raise
                extra: dict[str, Any] = {}
                if region and region != "us-east-1":
                    extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
                self.client.create_bucket(Bucket=self.bucket, **extra)
                self.client.put_bucket_versioning(
                    Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
                )
                logger.info("created S3 bucket %s with versioning", self.bucket)
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            if status != "Enabled":
                logger.warning(
                    "S3 bucket %s has versioning %s; enable it so overwritten raw files "
                    "can be recovered",
                    self.bucket,
                    status or "off",
                )
        except (BotoCoreError, ClientError) as exc:
            raise SourceUnavailable(f"S3 bucket {self.bucket} is not usable: {exc}") from exc

    async def put(self, library_id: str, version: str, content_hash: str, data: bytes) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=raw_key(library_id, version, content_hash),
            Body=data,
        )

    async def get(self, library_id: str, version: str, content_hash: str) -> bytes:
        response = await asyncio.to_thread(
            self.client.get_object,
            Bucket=self.bucket,
            Key=raw_key(library_id, version, content_hash),
        )
        return bytes(response["Body"].read())
