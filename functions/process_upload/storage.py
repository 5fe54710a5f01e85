"""AWS adapters for jobs.py: S3 objects, the DynamoDB job table, EventBridge events.

The exactly-once guarantee lives in `DynamoJobStore.claim_run`: one conditional
write per set of input versions (see docs/job-protocol.md).
"""

from __future__ import annotations

import json
import re
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

    def _update(self, key: dict, *, set_: dict, set_if_absent: dict | None = None, add: dict | None = None,
                remove: tuple[str, ...] = (), condition: str | None = None, condition_values: dict | None = None,
                return_values: str = "NONE") -> dict | None:
        """UpdateItem with every attribute name aliased (#a0...) so reserved words never bite.

        In `condition`, write attribute names as #name and values as :name (given in condition_values).
        Returns the response, or None when the condition failed.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def alias(attr: str) -> str:
            token = f"#{attr}"
            names[token] = attr
            return token

        clauses = [f"{alias(a)} = :s_{a}" for a in set_]
        values.update({f":s_{a}": _dynamo_safe(v) for a, v in set_.items()})
        for a, v in (set_if_absent or {}).items():
            clauses.append(f"{alias(a)} = if_not_exists({alias(a)}, :i_{a})")
            values[f":i_{a}"] = _dynamo_safe(v)
        expression = "SET " + ", ".join(clauses)
        if add:
            expression += " ADD " + ", ".join(f"{alias(a)} :a_{a}" for a in add)
            values.update({f":a_{a}": v for a, v in add.items()})
        if remove:
            expression += " REMOVE " + ", ".join(alias(a) for a in remove)
        kwargs: dict[str, Any] = {"Key": key, "UpdateExpression": expression, "ReturnValues": return_values}
        if condition:
            for token in re.findall(r"#(\w+)", condition):
                names[f"#{token}"] = token
            values.update({k: _dynamo_safe(v) for k, v in (condition_values or {}).items()})
            kwargs["ConditionExpression"] = condition
        kwargs["ExpressionAttributeNames"] = names
        kwargs["ExpressionAttributeValues"] = values
        try:
            return self.table.update_item(**kwargs)
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise

    def set_waiting(self, job_id: str, files: dict, missing: list[str], now: float, ttl: int) -> bool:
        # only a new or still-waiting job: waiting after a run started would be a regression
        return self._update(
            {"job_id": job_id, "sk": STATUS_SK},
            set_={"status": WAITING_FOR_FILES, "files": files, "missing": missing, "updated_at": iso(now),
                  "expires_at": ttl},
            set_if_absent={"created_at": iso(now)},
            condition="attribute_not_exists(#status) OR #status = :waiting",
            condition_values={":waiting": WAITING_FOR_FILES},
        ) is not None

    def claim_run(self, job_id: str, fingerprint: str, *, now: float, lease_until: float,
                  request_id: str, files: dict, ttl: int) -> int | None:
        """The exactly-once gate: returns the attempt number, or None if another delivery owns the run."""
        response = self._update(
            {"job_id": job_id, "sk": run_sk(fingerprint)},
            set_={"run_status": PROCESSING, "lease_expires_at": round(lease_until, 3), "claimed_at": iso(now),
                  "request_id": request_id, "files": files, "expires_at": ttl},
            add={"attempts": 1},
            condition="attribute_not_exists(#job_id) OR #run_status = :retrying "
                      "OR (#run_status = :processing AND #lease_expires_at < :now)",
            condition_values={":retrying": RETRYING, ":processing": PROCESSING, ":now": round(now, 3)},
            return_values="ALL_NEW",
        )
        return None if response is None else int(response["Attributes"]["attempts"])

    def set_processing(self, job_id: str, fingerprint: str, *, attempt: int, files: dict, claim_seq: int,
                       now: float, output_bucket: str, output_prefix: str, ttl: int) -> bool:
        # a newer claim (a later upload) wins the status item; an older one must not overwrite it
        return self._update(
            {"job_id": job_id, "sk": STATUS_SK},
            set_={"status": PROCESSING, "fingerprint": fingerprint, "attempt": attempt, "files": files,
                  "claim_seq": claim_seq, "started_at": iso(now), "updated_at": iso(now),
                  "output_bucket": output_bucket, "output_prefix": output_prefix, "expires_at": ttl},
            set_if_absent={"created_at": iso(now)},
            remove=("missing", "error", "counts", "output_keys", "finished_at", "duration_ms"),
            condition="attribute_not_exists(#claim_seq) OR #claim_seq <= :seq OR #fingerprint = :fp",
            condition_values={":seq": claim_seq, ":fp": fingerprint},
        ) is not None

    def finish(self, job_id: str, fingerprint: str, *, status: str, now: float, fields: dict, ttl: int) -> bool:
        return self._update(
            {"job_id": job_id, "sk": STATUS_SK},
            set_={"status": status, "finished_at": iso(now), "updated_at": iso(now), "expires_at": ttl, **fields},
            condition="#fingerprint = :fp",
            condition_values={":fp": fingerprint},
        ) is not None

    def current_fingerprint(self, job_id: str) -> str | None:
        item = self.get_status(job_id)
        return item.get("fingerprint") if item else None

    def mark_run(self, job_id: str, fingerprint: str, run_status: str, now: float) -> None:
        self._update({"job_id": job_id, "sk": run_sk(fingerprint)},
                     set_={"run_status": run_status, "finished_at": iso(now)})

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

