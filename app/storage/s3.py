"""S3 backend (AWS or any S3 API): the production topology, where file bytes bypass the app.

Uploads are staged and checked locally, then sent by the server with multipart above a
threshold. Browsers get short-lived presigned GET URLs, or CDN URLs (e.g. CloudFront in front of
the bucket) for public files when CDN_BASE_URL is set. Objects carry the same immutable
Cache-Control as the local route and no Content-Encoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from app.storage.base import (
    ObjectNotFoundError,
    ObjectStat,
    StagedFile,
    Storage,
    StorageError,
    check_key,
    is_key,
)

IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPE = "application/octet-stream"


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


class S3Storage(Storage):
    name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        staging_dir: Path,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        key_prefix: str = "files/",
        presign_expiry_s: int = 600,
        cdn_base_url: str | None = None,
        multipart_threshold: int = 64 * 1024**2,
        multipart_chunk: int = 16 * 1024**2,
        client: Any | None = None,
    ) -> None:
        super().__init__(staging_dir=staging_dir)
        self.bucket = bucket
        self.key_prefix = key_prefix
        self.presign_expiry_s = presign_expiry_s
        self.cdn_base_url = cdn_base_url.rstrip("/") if cdn_base_url else None
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunk, max_concurrency=4
        )
        if client is None:
            # Path-style addressing works with every S3 API server; AWS virtual hosts need DNS names.
            addressing = "path" if endpoint_url else "auto"
            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(
                    signature_version="s3v4", s3={"addressing_style": addressing}, retries={"mode": "standard"}
                ),
            )
        self.client = client

    def object_name(self, key: str) -> str:
        check_key(key)
        return f"{self.key_prefix}{key[:2]}/{key}"

    def _head(self, key: str) -> dict[str, Any]:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.object_name(key))
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFoundError(f"no stored file {key}") from None
            raise StorageError(f"S3 error for {key}: {exc}") from exc

    def _commit(self, staged: StagedFile) -> bool:
        if self.exists(staged.sha256):
            # The same bytes again: refresh LastModified (a server-side copy onto itself), so a
            # sweep of unreferenced files (app/catalog/sweep.py) leaves it alone meanwhile.
            name = self.object_name(staged.sha256)
            self.client.copy_object(
                Bucket=self.bucket,
                Key=name,
                CopySource={"Bucket": self.bucket, "Key": name},
                MetadataDirective="REPLACE",
                ContentType=CONTENT_TYPE,
                CacheControl=IMMUTABLE,
                Metadata={"sha256": staged.sha256},
            )
            return False
        self.client.upload_file(
            str(staged.path),
            self.bucket,
            self.object_name(staged.sha256),
            ExtraArgs={"ContentType": CONTENT_TYPE, "CacheControl": IMMUTABLE, "Metadata": {"sha256": staged.sha256}},
            Config=self.transfer,
        )
        return True

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_name(key))
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFoundError(f"no stored file {key}") from None
            raise StorageError(f"S3 error for {key}: {exc}") from exc
        return response["Body"]

    def stat(self, key: str) -> ObjectStat:
        head = self._head(key)
        return ObjectStat(key=key, size=int(head["ContentLength"]), modified=head["LastModified"].timestamp())

    def delete(self, key: str) -> bool:
        if not self.exists(key):
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self.object_name(key))
        return True

    def keys(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key_prefix):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if is_key(name) and item["Key"] == self.object_name(name):
                    yield name

    def url_for(self, key: str, *, public: bool = False) -> str:
        name = self.object_name(key)
        if public and self.cdn_base_url:
            return f"{self.cdn_base_url}/{name}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=self.presign_expiry_s
        )
