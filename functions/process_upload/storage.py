"""AWS adapters for jobs.py: S3 objects, the DynamoDB job table, EventBridge events (the
layer's memberseg_aws.events, shared with the push function), the sweeper's failure queue.

Every write to the job table is one conditional UpdateItem (docs/job-protocol.md lists the
conditions; each clause is named below, with what it admits). The low-level DynamoDB client is
used (thread-safe: the lease heartbeat runs on its own thread); a ConditionalCheckFailed becomes
False, every other error propagates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from job_ports import ObjectInfo
from memberseg.job_protocol import (
    STATUS_SK,
    JobStatus,
    RunStatus,
    from_item_value,
    iso_utc,
    run_sk,
    to_item_value,
)
from memberseg_aws.events import EventBridgePublisher as EventBridgePublisher  # shared with hubspot_push

_SERIALIZER, _DESERIALIZER = TypeSerializer(), TypeDeserializer()

# ------------------------------------------------------------------ the job table's conditions
# Attribute names are written #name, values :name (DynamoJobStore._update aliases them).

# Run item RUN#{fingerprint}: who may claim it (claim_run; job_run.claim explains the gate).
NEW_RUN = "attribute_not_exists(#job_id)"                       # no delivery has claimed these versions yet
RETRY_PENDING = "#run_status = :retrying"                       # the last attempt failed and handed the run back
LEASE_EXPIRED = "(#run_status = :processing AND #lease_expires_at < :now)"   # the holder stopped renewing: dead
CLAIM_CONDITION = f"{NEW_RUN} OR {RETRY_PENDING} OR {LEASE_EXPIRED}"

# Run item: the sweeper's note that an event's attempts are spent (record_spent_event).
RUN_EXISTS = "attribute_exists(#job_id)"                        # never creates a run item

# Run item: writes by the attempt that claimed it.
HOLDS_CLAIM = "#claim_token = :token"                           # this attempt's claim; a later claimant's wins
STILL_PROCESSING = "#run_status = :processing"                  # not yet final or handed back
HEARTBEAT_CONDITION = f"{HOLDS_CLAIM} AND {STILL_PROCESSING}"

# Status item: waiting for files (set_waiting).
NO_STATUS_YET = "attribute_not_exists(#status)"                 # a new job
STILL_WAITING = "#status = :waiting"                            # never after a run began: that would regress
WAITING_CONDITION = f"{NO_STATUS_YET} OR {STILL_WAITING}"

# Status item: which run is active (begin).
NO_RUN_BEGUN = "attribute_not_exists(#input_seq)"               # the job's first run
NOT_OLDER_INPUTS = "#input_seq <= :seq"                         # older inputs never take the job back
NOT_COMMITTED_YET = "(attribute_not_exists(#committed_fingerprint) OR #committed_fingerprint <> :fp)"
# ^ these versions' result is not committed: a redelivery that read the status just before the commit
#   never sets the committed job back to PROCESSING
BEGIN_CONDITION = f"({NO_RUN_BEGUN} OR {NOT_OLDER_INPUTS}) AND {NOT_COMMITTED_YET}"

# Status item: the commit point (commit, release).
IS_ACTIVE_RUN = "#run_id = :run"                                # only the active run commits or gives way

# Status item: the outbox (take_outbox, clear_outbox).
IS_COMMITTED_RUN = "#committed_run = :run"                      # the event of the run that is committed now
OUTBOX_PENDING = "attribute_exists(#outbox)"                    # not sent yet
PUBLISH_LEASE_FREE = "(attribute_not_exists(#outbox_lease_until) OR #outbox_lease_until < :now)"  # nobody sending
TAKE_OUTBOX_CONDITION = f"{IS_COMMITTED_RUN} AND {OUTBOX_PENDING} AND {PUBLISH_LEASE_FREE}"
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

    def list_objects(self, bucket: str, prefix: str, limit: int) -> list[ObjectInfo]:
        """At most `limit` current objects under `prefix` (one ListObjectsV2 request: s3:ListBucket only)."""
        response = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=limit)
        return [ObjectInfo(key=item["Key"], version_id=None, etag=item.get("ETag", "").strip('"'),
                           size=int(item.get("Size", 0)), last_modified=item["LastModified"].isoformat())
                for item in response.get("Contents", [])]

    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None:
        extra = {"VersionId": version_id} if version_id else None
        self.s3.download_file(bucket, key, str(dest), ExtraArgs=extra)

    def metadata(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        """The object version's user metadata (x-amz-meta-*, names without the prefix); none for a version that
        is gone (a noncurrent version expires a day after it was replaced)."""
        extra = {"VersionId": version_id} if version_id else {}
        try:
            return dict(self.s3.head_object(Bucket=bucket, Key=key, **extra).get("Metadata") or {})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchVersion"):
                return {}
            raise

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

    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    # -- plumbing
    def _update(self, key: dict, *, set_: dict, set_if_absent: dict | None = None, add: dict | None = None,
                remove: tuple[str, ...] = (), condition: str | None = None,
                condition_values: dict | None = None, return_new: bool = False) -> dict | None:
        """UpdateItem with every attribute name aliased (#a...) so reserved words never bite.

        In `condition`, write attribute names as #name and values as :name (given in condition_values).
        Returns the new item (or {}), or None when the condition failed.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def alias(attr: str) -> str:
            names[f"#{attr}"] = attr
            return f"#{attr}"

        clauses = [f"{alias(a)} = :s_{a}" for a in set_]
        values.update({f":s_{a}": v for a, v in set_.items()})
        for a, v in (set_if_absent or {}).items():
            clauses.append(f"{alias(a)} = if_not_exists({alias(a)}, :i_{a})")
            values[f":i_{a}"] = v
        parts = ["SET " + ", ".join(clauses)] if clauses else []
        if add:
            parts.append("ADD " + ", ".join(f"{alias(a)} :a_{a}" for a in add))
            values.update({f":a_{a}": v for a, v in add.items()})
        if remove:
            parts.append("REMOVE " + ", ".join(alias(a) for a in remove))
        expression = " ".join(parts)
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Key": self._key(key),
                                  "UpdateExpression": expression, "ReturnValues": "ALL_NEW" if return_new else "NONE"}
        if condition:
            for token in re.findall(r"#(\w+)", condition):
                names[f"#{token}"] = token
            values.update(condition_values or {})
            kwargs["ConditionExpression"] = condition
        kwargs["ExpressionAttributeNames"] = names
        kwargs["ExpressionAttributeValues"] = {k: _SERIALIZER.serialize(to_item_value(v)) for k, v in values.items()}
        try:
            response = self.client.update_item(**kwargs)
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return self._item(response.get("Attributes") or {})

    @staticmethod
    def _key(key: dict) -> dict:
        return {k: {"S": v} for k, v in key.items()}

    @staticmethod
    def _item(raw: dict) -> dict:
        return from_item_value({k: _DESERIALIZER.deserialize(v) for k, v in raw.items()})

    def _get(self, job_id: str, sk: str) -> dict | None:
        raw = self.client.get_item(TableName=self.table_name, Key=self._key({"job_id": job_id, "sk": sk}),
                                   ConsistentRead=True).get("Item")
        return self._item(raw) if raw else None

    # -- waiting
    def set_waiting(self, job_id: str, files: dict, missing: list[str], now: float, ttl: int) -> bool:
        # only a new or still-waiting job: waiting after a run started would be a regression
        return self._update(
            {"job_id": job_id, "sk": STATUS_SK},
            set_={"status": JobStatus.WAITING_FOR_FILES, "files": files, "missing": missing,
                  "updated_at": iso_utc(now), "expires_at": ttl},
            set_if_absent={"created_at": iso_utc(now)},
            condition=WAITING_CONDITION,
            condition_values={":waiting": JobStatus.WAITING_FOR_FILES},
        ) is not None

    # -- run items
    def claim_run(self, job_id: str, fingerprint: str, *, token: str, now: float, lease_until: float,
                  deadline_at: float, input_seq: int, files: dict, ttl: int, event_id: str | None = None) -> int | None:
        """Returns the attempt number, or None if another delivery owns the run (or it is final).

        CLAIM_CONDITION: NEW_RUN or RETRY_PENDING or LEASE_EXPIRED (job_run.claim says what that means).
        Also keeps the first claim's time and the ids of the events whose attempts claimed (the sweeper's
        evidence of when no attempt can still come)."""
        item = self._update(
            {"job_id": job_id, "sk": run_sk(fingerprint)},
            set_={"run_status": RunStatus.PROCESSING, "lease_expires_at": round(lease_until, 3),
                  "deadline_at": round(deadline_at, 3), "claimed_at": iso_utc(now), "claim_token": token,
                  "input_seq": input_seq, "fingerprint": fingerprint, "files": files, "expires_at": ttl},
            set_if_absent={"first_claimed_at": round(now, 3)},
            add={"attempts": 1, **({"claim_events": {event_id}} if event_id else {})},
            condition=CLAIM_CONDITION,
            condition_values={":retrying": RunStatus.RETRYING, ":processing": RunStatus.PROCESSING,
                              ":now": round(now, 3)},
            return_new=True,
        )
        return None if item is None else int(item["attempts"])

    def get_run(self, job_id: str, fingerprint: str) -> dict | None:
        return self._get(job_id, run_sk(fingerprint))

    def record_spent_event(self, job_id: str, fingerprint: str, event_id: str) -> bool:
        """Lambda's on-failure record of `event_id` arrived: none of its attempts will come any more."""
        return self._update({"job_id": job_id, "sk": run_sk(fingerprint)}, set_={},
                            add={"spent_events": {event_id}}, condition=RUN_EXISTS) is not None

    def heartbeat(self, job_id: str, fingerprint: str, *, token: str, lease_until: float) -> bool:
        return self._update({"job_id": job_id, "sk": run_sk(fingerprint)},
                            set_={"lease_expires_at": round(lease_until, 3)},
                            condition=HEARTBEAT_CONDITION,
                            condition_values={":token": token, ":processing": RunStatus.PROCESSING}) is not None

    def mark_run(self, job_id: str, fingerprint: str, *, token: str | None, run_status: str, now: float) -> bool:
        """Only the attempt holding the claim moves its run item (a later claimant's state wins)."""
        condition, values = (HOLDS_CLAIM, {":token": token}) if token else (None, None)
        return self._update({"job_id": job_id, "sk": run_sk(fingerprint)},
                            set_={"run_status": run_status, "finished_at": iso_utc(now)},
                            condition=condition, condition_values=values) is not None

    # -- the status item
    def begin(self, job_id: str, *, run_id: str, fingerprint: str, input_seq: int, attempt: int, files: dict,
              now: float, output_bucket: str, ttl: int) -> bool:
        """This attempt becomes the job's active run, unless strictly newer inputs were claimed or these
        versions are committed already."""
        set_ = {"status": JobStatus.PROCESSING, "run_id": run_id, "fingerprint": fingerprint,
                "input_seq": input_seq, "attempt": attempt, "started_at": iso_utc(now),
                "updated_at": iso_utc(now), "output_bucket": output_bucket, "expires_at": ttl}
        if files:
            set_["files"] = files
        return self._update(
            {"job_id": job_id, "sk": STATUS_SK}, set_=set_, set_if_absent={"created_at": iso_utc(now)},
            remove=("missing",),
            condition=BEGIN_CONDITION,
            condition_values={":seq": input_seq, ":fp": fingerprint},
        ) is not None

    def commit(self, job_id: str, *, run_id: str, fingerprint: str, input_seq: int, status: str, fields: dict,
               outbox: dict, now: float, publish_lease_until: float, ttl: int) -> bool:
        """THE commit point: only the active run (run_id) may publish its result set."""
        stale = ("counts",) if status == JobStatus.FAILED else ("error",)
        return self._update(
            {"job_id": job_id, "sk": STATUS_SK},
            set_={"status": status, "committed_status": status, "committed_run": run_id,
                  "committed_fingerprint": fingerprint,
                  "committed_seq": input_seq, "finished_at": iso_utc(now), "updated_at": iso_utc(now),
                  "outbox": outbox, "outbox_lease_until": round(publish_lease_until, 3), "expires_at": ttl,
                  **fields},
            remove=stale,
            condition=IS_ACTIVE_RUN,
            condition_values={":run": run_id},
        ) is not None

    def release(self, job_id: str, *, run_id: str, now: float) -> bool:
        """A run that found itself stale gives the status back to the committed run (if any)."""
        current = self.get_status(job_id) or {}
        set_: dict[str, Any] = {"updated_at": iso_utc(now)}
        if current.get("committed_run"):
            set_.update(status=current.get("committed_status") or JobStatus.SUCCEEDED,
                        run_id=current["committed_run"], fingerprint=current["committed_fingerprint"])
            remove: tuple[str, ...] = ()
        else:
            remove = ("run_id",)
        return self._update({"job_id": job_id, "sk": STATUS_SK}, set_=set_, remove=remove,
                            condition=IS_ACTIVE_RUN, condition_values={":run": run_id}) is not None

    def take_outbox(self, job_id: str, *, run_id: str, now: float, lease_until: float) -> bool:
        return self._update({"job_id": job_id, "sk": STATUS_SK},
                            set_={"outbox_lease_until": round(lease_until, 3)},
                            condition=TAKE_OUTBOX_CONDITION,
                            condition_values={":run": run_id, ":now": round(now, 3)}) is not None

    def clear_outbox(self, job_id: str, *, run_id: str, now: float) -> bool:
        return self._update({"job_id": job_id, "sk": STATUS_SK},
                            set_={"published_run": run_id, "published_at": iso_utc(now)},
                            remove=("outbox", "outbox_lease_until"),
                            condition=IS_COMMITTED_RUN, condition_values={":run": run_id}) is not None

    def get_status(self, job_id: str) -> dict | None:
        return self._get(job_id, STATUS_SK)

    def sweep_candidates(self) -> list[dict]:
        """Run items still in flight and status items with an unsent outcome event."""
        found: list[dict] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "ConsistentRead": True,
            "FilterExpression": "#run_status IN (:p, :r) OR attribute_exists(#outbox)",
            "ExpressionAttributeNames": {"#run_status": "run_status", "#outbox": "outbox"},
            "ExpressionAttributeValues": {":p": {"S": RunStatus.PROCESSING.value},
                                          ":r": {"S": RunStatus.RETRYING.value}},
        }
        for page in self.client.get_paginator("scan").paginate(**kwargs):
            found.extend(self._item(raw) for raw in page.get("Items", []))
        return found


class SqsDeadLetters:
    """The failure queue, read by the sweeper (a URL, or a queue name resolved once)."""

    def __init__(self, queue: str, client: Any = None):
        self.sqs = client or boto3.client("sqs")
        is_url = queue.startswith(("https://", "http://"))
        self.url = queue if is_url else self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]

    def receive(self, limit: int) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        while len(found) < limit:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=min(10, limit - len(found)),
                                             WaitTimeSeconds=0, VisibilityTimeout=120).get("Messages", [])
            if not batch:
                break
            found.extend((m["ReceiptHandle"], m["Body"]) for m in batch)
        return found

    def delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)
