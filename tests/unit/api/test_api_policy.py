"""The presigned POST's policy, decoded and checked condition by condition.

moto does not enforce POST policies (oversize, wrong type, expired uploads all pass),
so this is where the limits are proven. Presigning is local computation: no network.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from api_support import JOB_ID, settings

import api_core as core
import api_service as service
import api_storage


def _decoded(post: dict) -> dict:
    return json.loads(base64.b64decode(post["fields"]["policy"]))


@pytest.fixture
def created():
    s = settings(max_upload_bytes=core.DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)
    deps = service.Deps(objects=api_storage.S3Objects(), jobs=_Jobs(), new_id=lambda: JOB_ID)
    before = dt.datetime.now(dt.timezone.utc)
    out = service.create_job(s, deps, {"memberships": "xlsx", "orders": "csv"})
    return out, before


class _Jobs:
    def create(self, *args, **kwargs):
        return True


def _conditions(policy: dict) -> tuple[dict, list]:
    exact, other = {}, []
    for cond in policy["conditions"]:
        if isinstance(cond, dict):
            (name, value), = cond.items()
            exact[name] = value
        else:
            other.append(cond)
    return exact, other


@pytest.mark.parametrize("role, ext", [("memberships", "xlsx"), ("orders", "csv")])
def test_policy_pins_bucket_exact_key_type_and_size(created, role, ext):
    out, _ = created
    post = out["uploads"][role]
    exact, other = _conditions(_decoded(post))
    key = f"uploads/{JOB_ID}/{role}.{ext}"
    assert exact["bucket"] == "in-bucket"
    assert exact["key"] == key == post["fields"]["key"]             # exact key, no starts-with
    assert not any(c[0] == "starts-with" and c[1] == "$key" for c in other)
    assert exact["Content-Type"] == core.CONTENT_TYPES[f".{ext}"] == post["fields"]["Content-Type"]
    assert exact["Content-Type"] in {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.ms-excel.sheet.macroEnabled.12",
        "application/vnd.ms-excel", "text/csv"}
    assert not any(c[0] == "starts-with" and c[1].lower() == "$content-type" for c in other)
    assert ["content-length-range", 1, 50 * 1024 * 1024] in other


def test_policy_is_sigv4_and_expires_after_15_minutes(created):
    out, before = created
    for post in out["uploads"].values():
        policy = _decoded(post)
        exact, _ = _conditions(policy)
        fields = post["fields"]
        assert fields["x-amz-algorithm"] == exact["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
        assert fields["x-amz-credential"].endswith("/us-east-1/s3/aws4_request")
        assert "x-amz-signature" in fields and "x-amz-date" in fields
        assert "AWSAccessKeyId" not in fields and "signature" not in fields       # no SigV2 fallback
        expiration = dt.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        assert dt.timedelta(minutes=14, seconds=50) <= expiration - before <= dt.timedelta(minutes=15, seconds=10)
    assert out["expires_in"] == 900


def test_max_size_follows_the_parameter(monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "7")
    s = core.Settings.from_env({"INPUT_BUCKET": "in-bucket", "OUTPUT_BUCKET": "out-bucket", "JOB_TABLE": "jobs",
                                "MAX_UPLOAD_MB": "7"})
    deps = service.Deps(objects=api_storage.S3Objects(), jobs=_Jobs(), new_id=lambda: JOB_ID)
    post = service.create_job(s, deps, {"memberships": "xls", "orders": "xlsm"})["uploads"]["memberships"]
    _, other = _conditions(_decoded(post))
    assert ["content-length-range", 1, 7 * 1024 * 1024] in other


def test_presigned_get_is_sigv4_short_lived_and_an_attachment():
    url = api_storage.S3Objects().presigned_get("out-bucket", f"results/{JOB_ID}/hubspot_contacts.csv", 300,
                                                "hubspot_contacts.csv")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=300" in url
    assert "response-content-disposition=attachment" in url and "Signature=" not in url.replace("X-Amz-Signature", "")


def test_each_jobs_forms_pin_its_own_upload_token_kept_on_the_status_item():
    """Single-use forms (docs/job-protocol.md): every POST /jobs mints a token, keeps it on the status item
    and pins it exactly in both forms, so an upload through the form carries it and cannot leave it out."""
    from memberseg.job_protocol import UPLOAD_TOKEN_FIELD

    class Jobs:
        tokens: list[str] = []

        def create(self, job_id, **kwargs):
            self.tokens.append(kwargs["upload_token"])
            return True

    jobs = Jobs()
    deps = service.Deps(objects=api_storage.S3Objects(), jobs=jobs, new_id=core.new_job_id)
    first, second = (service.create_job(settings(), deps, {"memberships": "xlsx", "orders": "csv"}) for _ in range(2))
    assert len(set(jobs.tokens)) == 2 and all(len(token) == 32 for token in jobs.tokens)
    for out, token in zip((first, second), jobs.tokens, strict=True):
        for post in out["uploads"].values():
            exact, _ = _conditions(_decoded(post))
            assert post["fields"][UPLOAD_TOKEN_FIELD] == exact[UPLOAD_TOKEN_FIELD] == token
