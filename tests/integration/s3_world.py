"""Helpers for the S3 job-protocol integration tests (moto mock_aws, template resources)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import local_aws

ROOT = Path(__file__).resolve().parents[2]

EVENTS = ROOT / "events"
EXAMPLES = ROOT / "examples"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def make_event(bucket: str, key: str, *, version_id: str | None = None, etag: str = "0" * 32, size: int = 1) -> dict:
    """An EventBridge "Object Created" event shaped like the ones in events/ (key URL-encoded)."""
    event = load_event("object_created_memberships.json")
    event["id"] = str(uuid.uuid4())
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    obj = event["detail"]["object"]
    obj.update({"key": key, "etag": etag, "size": size})
    obj["version-id"] = version_id or "null"
    return local_aws.as_delivered_by_aws(event)


@dataclass
class World:
    session: Any
    local: Any
    app: Any
    s3: Any
    sqs: Any

    @property
    def input_bucket(self) -> str:
        return self.local.stack.input_bucket

    @property
    def output_bucket(self) -> str:
        return self.local.stack.output_bucket

    def put(self, key: str, data: bytes | Path) -> dict:
        body = data.read_bytes() if isinstance(data, Path) else data
        return self.s3.put_object(Bucket=self.input_bucket, Key=key, Body=body)

    def invoke(self, event: dict) -> dict:
        return self.app.handler(event, local_aws.LambdaContext())

    @staticmethod
    def next_second() -> None:
        """Wait for the clock's next second: S3's LastModified (a run's input order) has 1 s resolution,
        so an upload meant to be *newer* than the last one must land in a later second."""
        time.sleep(1.02 - time.time() % 1)

    def upload_and_deliver(self, key: str, data: bytes | Path) -> dict:
        response = self.put(key, data)
        return self.invoke(make_event(self.input_bucket, key, version_id=response.get("VersionId"),
                                      etag=response["ETag"].strip('"')))

    def post_form(self, upload: dict, data: bytes) -> tuple[dict, dict]:
        """What the page (or anyone holding the form) does with a presigned POST from POST /jobs: every field,
        then the file. Returns the object version's HeadObject and its S3 event (not delivered)."""
        import requests

        answer = requests.post(upload["url"], data=upload["fields"], files={"file": ("x", data)}, timeout=30)
        assert answer.status_code in (200, 204), answer.text
        key = upload["fields"]["key"]
        head = self.s3.head_object(Bucket=self.input_bucket, Key=key)
        return head, make_event(self.input_bucket, key, version_id=head.get("VersionId"),
                                etag=head["ETag"].strip('"'), size=len(data))

    def results(self, job_id: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.output_bucket, Prefix=f"results/{job_id}/")
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def committed_prefix(self, job_id: str) -> str:
        return (self.status(job_id) or {})["output_prefix"]

    def committed(self, job_id: str) -> list[str]:
        """Names in the committed run's folder (the one the status item and the events name)."""
        prefix = self.committed_prefix(job_id)
        listing = self.s3.list_objects_v2(Bucket=self.output_bucket, Prefix=prefix)
        return sorted(o["Key"][len(prefix):] for o in listing.get("Contents", []))

    def run_folders(self, job_id: str) -> list[str]:
        base = f"results/{job_id}/runs/"
        return sorted({key[len(base):].split("/", 1)[0] for key in self.results(job_id) if key.startswith(base)})

    def read_committed(self, job_id: str, name: str) -> dict:
        return self.read_json(self.committed_prefix(job_id) + name)

    def read_json(self, key: str) -> dict:
        return json.loads(self.s3.get_object(Bucket=self.output_bucket, Key=key)["Body"].read())

    def status(self, job_id: str) -> dict | None:
        table = self.session.resource("dynamodb").Table(self.local.stack.table_name)
        return table.get_item(Key={"job_id": job_id, "sk": "STATUS"}, ConsistentRead=True).get("Item")

    def job_events(self) -> list[dict]:
        return local_aws.drain(self.sqs, self.local.job_events_queue_url)

    def trigger_events(self) -> list[dict]:
        """What the template's EventBridge rule delivered to the function's target."""
        return local_aws.drain(self.sqs, self.local.trigger_queue_url)


