"""The two job routes as plain functions over injected adapters (api_storage.py in Lambda,
fakes or moto in tests). No boto3, no Powertools here."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import api_core as core
from memberseg.job_protocol import (
    ANSWERS_NAME,
    ERROR_NAME,
    NEEDS_ANSWERS,
    PROPERTIES_NAME,
    PROPOSAL_JSON,
    REPORT_NAME,
    iso_utc,
    saved_profile_key,
)


class Objects(Protocol):
    def presigned_post(self, bucket: str, key: str, fields: dict, conditions: list, expires_in: int) -> dict: ...
    def presigned_get(self, bucket: str, key: str, expires_in: int, filename: str) -> str: ...
    def list_objects(self, bucket: str, prefix: str, limit: int = 50) -> list[tuple[str, int]]: ...
    def read_json(self, bucket: str, key: str) -> dict | None: ...
    def put_json(self, bucket: str, key: str, data: dict) -> None: ...
    def origin(self, bucket: str) -> str: ...


class Jobs(Protocol):
    def get_status(self, job_id: str) -> dict | None: ...
    def create(self, job_id: str, *, created_at: str, expires_at: int, missing: list[str]) -> bool: ...


class NotFound(LookupError):
    """No such job (-> 404)."""


class Conflict(RuntimeError):
    """The job is not waiting for answers (-> 409)."""


@dataclass
class Deps:
    objects: Objects
    jobs: Jobs
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = core.new_job_id


def create_job(settings: core.Settings, deps: Deps, body: Any) -> dict:
    """POST /jobs: a new job id and one presigned POST per file."""
    extensions = core.parse_create_request(body)
    names = core.original_names(body)
    now = deps.clock()
    for _ in range(3):                      # a uuid4 collision is astronomically rare; never reuse a job
        job_id = core.validate_job_id(deps.new_id())
        if deps.jobs.create(job_id, created_at=iso_utc(now), expires_at=int(now + settings.retention_days * 86400),
                            missing=list(core.ROLES)):
            break
    else:
        raise RuntimeError("could not mint a fresh job id")
    uploads = {}
    for plan in core.plan_uploads(settings, job_id, extensions, names):
        post = deps.objects.presigned_post(settings.input_bucket, plan.key, plan.fields(),
                                           plan.conditions(settings), core.UPLOAD_URL_TTL_S)
        uploads[plan.role] = {"url": post["url"], "fields": post["fields"], "key": plan.key,
                              "content_type": plan.content_type, "name": plan.name}
    return {"job_id": job_id, "uploads": uploads, "expires_in": core.UPLOAD_URL_TTL_S,
            "max_upload_bytes": settings.max_upload_bytes}


def describe_job(settings: core.Settings, deps: Deps, job_id: Any) -> dict:
    """GET /jobs/{job_id}: status, files received, and the summary, links or error once finished."""
    job_id = core.validate_job_id(job_id)            # BadRequest before any key or lookup is built
    item = deps.jobs.get_status(job_id)
    objects = deps.objects.list_objects(settings.input_bucket, core.job_prefix(settings, job_id))
    if item is None and not objects:
        raise NotFound(f"no job {job_id}")
    files = core.received_files(settings, job_id, objects)
    status = (item or {}).get("status") or core.WAITING_FOR_FILES
    view: dict[str, Any] = {"job_id": job_id, "status": status, "files": files,
                            "created_at": (item or {}).get("created_at"), "updated_at": (item or {}).get("updated_at")}
    committed = core.committed_prefix(settings, job_id, item)     # the committed run only, never a newer one
    if status in (core.SUCCEEDED, core.FAILED) and committed is None:
        status = view["status"] = core.PROCESSING                  # no commit recorded yet
    if status == core.SUCCEEDED and committed:
        report = deps.objects.read_json(settings.output_bucket, committed + REPORT_NAME)
        if report is None:                   # the committed set is gone (retention): say so, don't guess
            view["error"] = core.plain_error({"code": "expired", "message": "The results have expired; "
                                              "upload the files again."})
        else:
            properties = deps.objects.read_json(settings.output_bucket, committed + PROPERTIES_NAME)
            view["summary"] = core.summarise_report(report, core.property_labels(properties))
            view["downloads"] = [
                {**d, "url": deps.objects.presigned_get(settings.output_bucket, committed + d["name"],
                                                        core.DOWNLOAD_URL_TTL_S, d["name"])}
                for d in core.output_downloads(report)]
            view["downloads_expire_in"] = core.DOWNLOAD_URL_TTL_S
            hubspot = core.hubspot_view(item)
            if hubspot is not None:
                view["hubspot"] = hubspot
    elif status == core.FAILED and committed:
        error = deps.objects.read_json(settings.output_bucket, committed + ERROR_NAME)
        view["error"] = core.plain_error((error or {}).get("error") or (item or {}).get("error"))
        if view["error"]["code"] == NEEDS_ANSWERS:     # the page's mapping step instead of an error
            proposal = deps.objects.read_json(settings.output_bucket, committed + PROPOSAL_JSON)
            view["mapping"] = core.mapping_view(job_id, committed, proposal)

    view["message"] = core.status_message(status, files, view.get("error"))
    return view


def answer_job(settings: core.Settings, deps: Deps, job_id: Any, body: Any) -> dict:
    """POST /jobs/{job_id}/answers: the answers to a needs_answers job's questions and the profile's name,
    kept as uploads/{job_id}/answers.json. That upload runs the job again: the processing function completes
    the profile with the engine, saves it as profiles/{name}.yaml and runs (docs/job-protocol.md)."""
    job_id = core.validate_job_id(job_id)
    item = deps.jobs.get_status(job_id)
    if item is None:
        raise NotFound(f"no job {job_id}")
    committed = core.committed_prefix(settings, job_id, item)
    error = (item.get("error") or {}) if item.get("status") == core.FAILED else {}
    if committed is None or error.get("code") != NEEDS_ANSWERS:
        raise Conflict("this job is not waiting for answers")
    proposal = deps.objects.read_json(settings.output_bucket, committed + PROPOSAL_JSON)
    questions = core.questions_view(proposal)
    if not questions:
        raise Conflict("this job's questions have expired; upload the files again")
    answers = core.parse_answers_request(body, questions)
    deps.objects.put_json(settings.input_bucket, core.job_prefix(settings, job_id) + ANSWERS_NAME, answers)
    return {"job_id": job_id, "status": core.PROCESSING, "profile_key": saved_profile_key(answers["profile_name"])}
