"""boto3 adapters for the upload API: presigning, reading outputs, the job table.

Presigning uses SigV4 explicitly: boto3 otherwise falls back to SigV2 for some
presign calls (see shared platform notes).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from memberseg.job_protocol import STATUS_SK, UPLOAD_TOKEN_ATTRIBUTE, JobStatus, from_item_value


def s3_client() -> Any:
    return boto3.client("s3", config=Config(signature_version="s3v4"))




class S3Objects:
    def __init__(self, client: Any = None):
        self.s3 = client or s3_client()

    def presigned_post(self, bucket: str, key: str, fields: dict, conditions: list, expires_in: int) -> dict:
        return self.s3.generate_presigned_post(Bucket=bucket, Key=key, Fields=fields, Conditions=conditions,
                                               ExpiresIn=expires_in)

    def presigned_get(self, bucket: str, key: str, expires_in: int, filename: str) -> str:
        return self.s3.generate_presigned_url(
            "get_object", ExpiresIn=expires_in,
            Params={"Bucket": bucket, "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"'})

    def origin(self, bucket: str) -> str:
        """scheme://host the browser reaches this bucket at (as the presigned URLs spell it; no request)."""
        parts = urlsplit(self.s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "x"},
                                                        ExpiresIn=60))
        return f"{parts.scheme}://{parts.netloc}"

    def list_objects(self, bucket: str, prefix: str, limit: int = 50) -> list[tuple[str, int]]:
        response = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=limit)
        return [(o["Key"], int(o.get("Size", 0))) for o in response.get("Contents", [])]

    def read_text(self, bucket: str, key: str) -> str:
        """A saved profile's text (UTF-8; a byte that is not becomes U+FFFD and the engine names the file)."""
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8-sig", errors="replace")

    def put_new(self, bucket: str, key: str, data: bytes, content_type: str, *, replace: bool) -> bool:
        """Write the object; unless `replace`, only if no object has that key (S3's If-None-Match: *).
        False: one exists (another save won)."""
        extra = {} if replace else {"IfNoneMatch": "*"}
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, **extra)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def delete(self, bucket: str, key: str) -> None:
        self.s3.delete_object(Bucket=bucket, Key=key)

    def read_json(self, bucket: str, key: str) -> dict | None:
        """The object as JSON, or None when it does not exist."""
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return json.loads(body)

    def put_json(self, bucket: str, key: str, data: dict) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
                           ContentType="application/json")


class JobTable:
    """The STATUS item of docs/job-protocol.md. The API creates it (WAITING_FOR_FILES), reads it, and renews
    its upload token."""

    def __init__(self, table_name: str, resource: Any = None):
        self.table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def get_status(self, job_id: str) -> dict | None:
        item = self.table.get_item(Key={"job_id": job_id, "sk": STATUS_SK}, ConsistentRead=True).get("Item")
        return from_item_value(item) if item else None

    def create(self, job_id: str, *, created_at: str, expires_at: int, missing: list[str], upload_token: str) -> bool:
        try:
            self.table.put_item(
                Item={"job_id": job_id, "sk": STATUS_SK, "status": JobStatus.WAITING_FOR_FILES.value,
                      "created_at": created_at,
                      "updated_at": created_at, "missing": missing, "created_by": "api", "expires_at": expires_at,
                      UPLOAD_TOKEN_ATTRIBUTE: upload_token},
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def renew_upload_token(self, job_id: str, upload_token: str, *, expires_at: int) -> None:
        """The job's current upload token becomes `upload_token` (POST /jobs/{job_id}/uploads). One attribute set
        in place: a concurrent write of the processing function is never lost. A job without a status item (its
        files dropped straight into the bucket) gets one holding the token alone, which expires like a job."""
        self.table.update_item(
            Key={"job_id": job_id, "sk": STATUS_SK},
            UpdateExpression="SET #token = :token, #expires = if_not_exists(#expires, :expires)",
            ExpressionAttributeNames={"#token": UPLOAD_TOKEN_ATTRIBUTE, "#expires": "expires_at"},
            ExpressionAttributeValues={":token": upload_token, ":expires": expires_at},
        )
