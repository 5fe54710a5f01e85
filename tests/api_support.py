"""Helpers shared by the upload-API tests: the API's modules (on pytest's pythonpath), base
events, and in-memory adapters."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import api_core
import api_service
import serve_local

ROOT = Path(__file__).resolve().parent.parent
API_DIR = ROOT / "functions" / "api"
EVENTS = ROOT / "events"

JOB_ID = "3b671b234aed48ba84dc72ad23c02e90"
RUN_PREFIX = f"results/{JOB_ID}/runs/001763164800000-0123456789abcdef-a1/"     # a committed run's folder


def committed_item(status: str, **extra) -> dict:
    """A status item as the processing function leaves it after a commit."""
    return {"status": status, "output_prefix": RUN_PREFIX, "committed_run": RUN_PREFIX.split("/")[-2], **extra}


def api_app():
    return serve_local.load_api_app()


def authorizer():
    return serve_local.load_authorizer()


def event(name: str, **changes) -> dict:
    data = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return copy.deepcopy(data) | changes


def http_event(method: str, path: str, body: dict | str | None = None, headers: dict | None = None) -> dict:
    e = event("api_get_page.json")
    e["rawPath"] = path
    e["requestContext"]["http"].update(method=method, path=path)
    e["headers"].update(headers or {})
    if body is not None:
        e["body"] = body if isinstance(body, str) else json.dumps(body)
        e["headers"]["content-type"] = "application/json"
    return e


def create_named_job(module, memberships: str, orders: str, *, into: str | None = None) -> dict:
    """POST /jobs naming both files, as the page sends it: the 201 answer's body. `into`: a job's id, for
    POST /jobs/{into}/uploads (newer files into that job) instead."""
    body = {"files": {"memberships": {"name": memberships}, "orders": {"name": orders}}}
    response = module.handler(http_event("POST", f"/jobs/{into}/uploads" if into else "/jobs", body), Context())
    assert response["statusCode"] == 201, response
    return json.loads(response["body"])


def job_view(module, job_id: str) -> dict:
    """GET /jobs/{job_id}: what the page shows."""
    return json.loads(module.handler(http_event("GET", f"/jobs/{job_id}"), Context())["body"])


class Context:
    function_name = "memberseg-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:memberseg-api"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def settings(**changes) -> api_core.Settings:
    base = dict(input_bucket="in-bucket", output_bucket="out-bucket", table_name="jobs")
    return api_core.Settings(**(base | changes))


class FakeObjects:
    def __init__(self):
        self.objects: dict[tuple[str, str], bytes] = {}
        self.posts: list[dict] = []
        self.reads: list[str] = []

    def put(self, bucket: str, key: str, data: bytes | dict) -> None:
        self.objects[(bucket, key)] = json.dumps(data).encode() if isinstance(data, dict) else data

    def presigned_post(self, bucket, key, fields, conditions, expires_in):
        self.posts.append(dict(bucket=bucket, key=key, fields=fields, conditions=conditions, expires_in=expires_in))
        return {"url": f"https://{bucket}.s3.amazonaws.com/", "fields": {**fields, "key": key, "policy": "p"}}

    def origin(self, bucket):
        return f"https://{bucket}.s3.amazonaws.com"

    def presigned_get(self, bucket, key, expires_in, filename):
        return f"https://{bucket}.s3.amazonaws.com/{key}?expires={expires_in}&name={filename}"

    def list_objects(self, bucket, prefix, limit=50):
        return [(k, len(v)) for (b, k), v in sorted(self.objects.items()) if b == bucket and k.startswith(prefix)]

    def read_text(self, bucket, key):
        return self.objects[(bucket, key)].decode()

    def put_new(self, bucket, key, data, content_type, *, replace):
        if not replace and (bucket, key) in self.objects:
            return False
        self.objects[(bucket, key)] = data
        return True

    def delete(self, bucket, key):
        self.objects.pop((bucket, key), None)

    def read_json(self, bucket, key):
        self.reads.append(key)
        data = self.objects.get((bucket, key))
        return None if data is None else json.loads(data)


class FakeJobs:
    def __init__(self):
        self.items: dict[str, dict] = {}
        self.lookups: list[str] = []

    def get_status(self, job_id):
        self.lookups.append(job_id)
        return self.items.get(job_id)

    def create(self, job_id, *, created_at, expires_at, missing, upload_token):
        if job_id in self.items:
            return False
        self.items[job_id] = {"job_id": job_id, "status": "WAITING_FOR_FILES", "created_at": created_at,
                              "expires_at": expires_at, "missing": missing, "upload_token": upload_token}
        return True

    def renew_upload_token(self, job_id, upload_token, *, expires_at):
        self.items.setdefault(job_id, {"job_id": job_id, "expires_at": expires_at})["upload_token"] = upload_token


def fake_deps(**changes) -> api_service.Deps:
    return api_service.Deps(objects=FakeObjects(), jobs=FakeJobs(), clock=lambda: 1_800_000_000.0, **changes)


SAMPLE_REPORT = {
    "as_of": "2026-11-15",
    "memberships": {"rows_in": 352, "kept": 182, "consolidated": 168, "rejected": 2},
    "orders": {"rows_in": 1494, "matched": 1447, "unmatched": 45, "rejected": 2, "unmatched_total": 87504.43},
    "status_counts": {"Expired": 52, "Expiring Soon": 24, "Active": 106},
    "segment_counts": {"active_membership": 106, "expiring_soon": 24, "high_value_at_risk": 49},
    "tier_counts": {"Gold": 30},
    "hubspot": {"rows": 171, "left_out": 11, "files": ["hubspot_contacts.csv"]},
    "outputs": ["membership_segments.xlsx", "hubspot_contacts.csv", "hubspot_properties.json", "report.json"],
}
SAMPLE_PROPERTIES = {"inputs": [{"name": "active_membership", "label": "Active Membership"},
                                {"name": "high_value_at_risk", "label": "High-Value At Risk"}]}
