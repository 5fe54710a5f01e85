"""AWS adapters for jobs.py: S3 objects, the DynamoDB job table, EventBridge events.

The exactly-once guarantee lives in `DynamoJobStore.claim_run`: one conditional
write per set of input versions (see docs/job-protocol.md).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from jobs import EVENT_SOURCE, PROCESSING, RETRYING, WAITING_FOR_FILES, ObjectInfo, iso

STATUS_SK = "STATUS"


def run_sk(fingerprint: str) -> str:
    return f"RUN#{fingerprint}"


def _dynamo_safe(value: Any) -> Any:
    """DynamoDB wants Decimal, not float; drop None values inside maps."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): _dynamo_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_dynamo_safe(v) for v in value]
    return value


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class S3ObjectStore:
    def __init__(self, client: Any = None):
        self.s3 = client or boto3.client("s3")

    def list_latest(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for version in page.get("Versions", []):
                if not version.get("IsLatest"):
                    continue
                vid = version.get("VersionId")
                found.append(ObjectInfo(
                    key=version["Key"],
                    version_id=None if vid in (None, "null") else vid,
                    etag=version.get("ETag", "").strip('"'),
                    size=int(version.get("Size", 0)),
                    last_modified=version["LastModified"].isoformat(),
                ))
        return found

    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None:
        extra = {"VersionId": version_id} if version_id else None
        self.s3.download_file(bucket, key, str(dest), ExtraArgs=extra)

    def upload(self, bucket: str, key: str, src: Path, content_type: str) -> None:
        self.s3.upload_file(str(src), bucket, key, ExtraArgs={"ContentType": content_type})

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def delete(self, bucket: str, key: str) -> None:
        self.s3.delete_object(Bucket=bucket, Key=key)


class DynamoJobStore:
    """Status item {job_id, sk=STATUS} (read by the API) + one run item per fingerprint."""

    def __init__(self, table_name: str, resource: Any = None):
        self.table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def set_waiting(self, job_id: str, files: dict, missing: list[str], now: float, ttl: int) -> bool:
        try:
            self.table.update_item(
                Key={"job_id": job_id, "sk": STATUS_SK},
                UpdateExpression="SET #s = :waiting, files = :files, missing = :missing, updated_at = :now, "
                                 "created_at = if_not_exists(created_at, :now), expires_at = :ttl",
                ConditionExpression="attribute_not_exists(#s) OR #s = :waiting",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":waiting": WAITING_FOR_FILES, ":files": _dynamo_safe(files),
                                           ":missing": missing, ":now": iso(now), ":ttl": ttl},
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False   # the job already ran or runs: waiting would be a regression
            raise

    def claim_run(self, job_id: str, fingerprint: str, *, now: float, lease_until: float,
                  request_id: str, files: dict, ttl: int) -> int | None:
        """The exactly-once gate: returns the attempt number, or None if another delivery owns the run."""
        try:
            response = self.table.update_item(
                Key={"job_id": job_id, "sk": run_sk(fingerprint)},
                UpdateExpression="SET run_status = :processing, lease_expires_at = :lease, claimed_at = :now_iso, "
                                 "request_id = :rid, files = :files, expires_at = :ttl ADD attempts :one",
                ConditionExpression="attribute_not_exists(job_id) OR run_status = :retrying "
                                    "OR (run_status = :processing AND lease_expires_at < :now)",
                ExpressionAttributeValues={
                    ":processing": PROCESSING, ":retrying": RETRYING, ":lease": Decimal(str(round(lease_until, 3))),
                    ":now": Decimal(str(round(now, 3))), ":now_iso": iso(now), ":rid": request_id,
                    ":files": _dynamo_safe(files), ":ttl": ttl, ":one": 1,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return int(response["Attributes"]["attempts"])

    def set_processing(self, job_id: str, fingerprint: str, *, attempt: int, files: dict, claim_seq: int,
                       now: float, output_bucket: str, output_prefix: str, ttl: int) -> bool:
        try:
            self.table.update_item(
                Key={"job_id": job_id, "sk": STATUS_SK},
                UpdateExpression="SET #s = :processing, fingerprint = :fp, attempt = :attempt, files = :files, "
                                 "claim_seq = :seq, started_at = :now, updated_at = :now, "
                                 "created_at = if_not_exists(created_at, :now), output_bucket = :ob, "
                                 "output_prefix = :op, expires_at = :ttl "
                                 "REMOVE missing, #e, counts, output_keys, finished_at, duration_ms",
                ConditionExpression="attribute_not_exists(claim_seq) OR claim_seq <= :seq OR fingerprint = :fp",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={":processing": PROCESSING, ":fp": fingerprint, ":attempt": attempt,
                                           ":files": _dynamo_safe(files), ":seq": claim_seq, ":now": iso(now),
                                           ":ob": output_bucket, ":op": output_prefix, ":ttl": ttl},
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def finish(self, job_id: str, fingerprint: str, *, status: str, now: float, fields: dict, ttl: int) -> bool:
        names = {"#s": "status"}
        values: dict[str, Any] = {":status": status, ":fp": fingerprint, ":now": iso(now), ":ttl": ttl}
        sets = ["#s = :status", "finished_at = :now", "updated_at = :now", "expires_at = :ttl"]
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            values[f":f{i}"] = _dynamo_safe(value)
            sets.append(f"#f{i} = :f{i}")
        try:
            self.table.update_item(
                Key={"job_id": job_id, "sk": STATUS_SK},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="fingerprint = :fp",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def current_fingerprint(self, job_id: str) -> str | None:
        item = self.table.get_item(Key={"job_id": job_id, "sk": STATUS_SK}, ConsistentRead=True).get("Item")
        return item.get("fingerprint") if item else None

    def mark_run(self, job_id: str, fingerprint: str, run_status: str, now: float) -> None:
        self.table.update_item(
            Key={"job_id": job_id, "sk": run_sk(fingerprint)},
            UpdateExpression="SET run_status = :rs, finished_at = :now",
            ExpressionAttributeValues={":rs": run_status, ":now": iso(now)},
        )

    # -- read side (used by tests, the demo, and a later status API)
    def get_status(self, job_id: str) -> dict | None:
        return self.table.get_item(Key={"job_id": job_id, "sk": STATUS_SK}, ConsistentRead=True).get("Item")


class EventBridgePublisher:
    def __init__(self, bus_name: str = "default", client: Any = None):
        self.bus_name = bus_name
        self.events = client or boto3.client("events")

    def publish(self, detail_type: str, detail: dict) -> None:
        response = self.events.put_events(Entries=[{
            "Source": EVENT_SOURCE, "DetailType": detail_type, "EventBusName": self.bus_name,
            "Detail": json.dumps(detail, default=str, ensure_ascii=False),
        }])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge rejected the {detail_type!r} event: {response['Entries']}")

