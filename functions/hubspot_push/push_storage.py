"""AWS adapters for push_flow.py: the committed run's objects (S3), the status item's `hubspot`
attribute (DynamoDB, conditional UpdateItem), events (EventBridge, memberseg_aws.events) and the token
(Secrets Manager)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from memberseg.job_protocol import (
    HUBSPOT_ACCEPTED_ATTRIBUTE,
    STATUS_SK,
    JobStatus,
    PushState,
    from_item_value,
    iso_utc,
    to_item_value,
)
from memberseg_aws.events import EventBridgePublisher as EventBridgePublisher  # shared with process_upload

_SERIALIZER, _DESERIALIZER = TypeSerializer(), TypeDeserializer()



class S3RunObjects:
    def __init__(self, client: Any = None):
        self.s3 = client or boto3.client("s3")

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None:
        self.s3.download_file(bucket, key, str(dest))

    def upload(self, bucket: str, key: str, src: Path, content_type: str) -> None:
        self.s3.upload_file(str(src), bucket, key, ExtraArgs={"ContentType": content_type})


class DynamoPushStore:
    """Only the status item's `hubspot` map (and its `updated_at`) is written, each time conditionally."""

    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def _key(self, job_id: str) -> dict:
        return {"job_id": {"S": job_id}, "sk": {"S": STATUS_SK}}

    def _update(self, job_id: str, expression: str, condition: str, values: dict) -> bool:
        names = {"#h": "hubspot", "#run": "run", "#state": "state", "#attempt": "attempt",
                 "#lease": "lease_until", "#status": "status", "#committed": "committed_run",
                 "#updated": "updated_at", "#published": "published", "#acc": HUBSPOT_ACCEPTED_ATTRIBUTE}
        used = {k: v for k, v in names.items() if k in expression or k in condition}
        try:
            self.client.update_item(
                TableName=self.table_name, Key=self._key(job_id), UpdateExpression=expression,
                ConditionExpression=condition, ExpressionAttributeNames=used,
                ExpressionAttributeValues={k: _SERIALIZER.serialize(to_item_value(v)) for k, v in values.items()})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_status(self, job_id: str) -> dict | None:
        raw = self.client.get_item(TableName=self.table_name, Key=self._key(job_id), ConsistentRead=True).get("Item")
        return from_item_value({k: _DESERIALIZER.deserialize(v) for k, v in raw.items()}) if raw else None

    def claim_push(self, job_id: str, *, run_id: str, attempt: int, now: float, lease_until: float) -> bool:
        hubspot = {"run": run_id, "state": PushState.PUSHING.value, "attempt": attempt,
                   "lease_until": round(lease_until, 3), "started_at": iso_utc(now)}
        return self._update(
            job_id, "SET #h = :h, #updated = :now_iso",
            "#status = :succeeded AND #committed = :run AND (attribute_not_exists(#h) OR #h.#run <> :run "
            "OR #h.#state = :retrying OR (#h.#state = :pushing AND #h.#lease < :now))",
            {":h": hubspot, ":now_iso": iso_utc(now), ":succeeded": JobStatus.SUCCEEDED.value, ":run": run_id,
             ":retrying": PushState.RETRYING.value, ":pushing": PushState.PUSHING.value, ":now": round(now, 3)})

    def record_push(self, job_id: str, *, run_id: str, attempt: int, hubspot: dict,
                    accepted: dict | None = None) -> bool:
        """The claim's holder writes its outcome (or hands the claim back), and with a push HubSpot took, the
        job's `hubspot_accepted` pointer in the same write; nobody else can."""
        values = {":h": {**hubspot, "run": run_id, "attempt": attempt}, ":run": run_id, ":attempt": attempt,
                  ":pushing": PushState.PUSHING.value, **({":acc": accepted} if accepted is not None else {})}
        return self._update(
            job_id, "SET #h = :h" + (", #acc = :acc" if accepted is not None else ""),
            "#h.#run = :run AND #h.#attempt = :attempt AND #h.#state = :pushing", values)

    def mark_published(self, job_id: str, *, run_id: str) -> bool:
        return self._update(job_id, "SET #h.#published = :yes", "#h.#run = :run", {":yes": True, ":run": run_id})


class SecretToken:
    """The private app's token from Secrets Manager: the plain string, or {"access_token": ...} JSON."""

    def __init__(self, secret_arn: str, client: Any = None):
        self.secret_arn = secret_arn
        self.client = client or boto3.client("secretsmanager")

    def __call__(self) -> str:
        value = str(self.client.get_secret_value(SecretId=self.secret_arn).get("SecretString") or "").strip()
        if value.startswith("{"):
            parsed = json.loads(value)
            value = str(parsed.get("access_token") or parsed.get("token") or "").strip()
        if not value:
            raise ValueError("the HubSpot token secret is empty")   # never echo the value itself
        return value
