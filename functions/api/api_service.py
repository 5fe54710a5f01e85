"""The API's routes as plain functions over injected adapters (api_storage.py in Lambda,
fakes or moto in tests). No boto3, no Powertools here: the job routes, saving a profile into the
input bucket's profiles/ (validated with the engine's rules, bounded as the job flow bounds them),
and re-running a failed job."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import api_core as core
from memberseg.job_protocol import (
    ANSWERS_NAME,
    ERROR_NAME,
    NEEDS_ANSWERS,
    PROPERTIES_NAME,
    PROPOSAL_JSON,
    REPORT_NAME,
    RERUN_NAME,
    iso_utc,
    saved_profile_key,
)


class Objects(Protocol):
    def presigned_post(self, bucket: str, key: str, fields: dict, conditions: list, expires_in: int) -> dict: ...
    def read_text(self, bucket: str, key: str) -> str: ...
    def put_new(self, bucket: str, key: str, data: bytes, content_type: str, *, replace: bool) -> bool: ...
    def presigned_get(self, bucket: str, key: str, expires_in: int, filename: str) -> str: ...
    def list_objects(self, bucket: str, prefix: str, limit: int = 50) -> list[tuple[str, int]]: ...
    def read_json(self, bucket: str, key: str) -> dict | None: ...
    def put_json(self, bucket: str, key: str, data: dict) -> None: ...
    def origin(self, bucket: str) -> str: ...
    def delete(self, bucket: str, key: str) -> None: ...


class Jobs(Protocol):
    def get_status(self, job_id: str) -> dict | None: ...
    def create(self, job_id: str, *, created_at: str, expires_at: int, missing: list[str],
               upload_token: str) -> bool: ...
    def renew_upload_token(self, job_id: str, upload_token: str, *, expires_at: int) -> None: ...


class NotFound(LookupError):
    """No such job (-> 404)."""


@dataclass
class Deps:
    objects: Objects
    jobs: Jobs
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = core.new_job_id
    new_token: Callable[[], str] = core.new_upload_token


def create_job(settings: core.Settings, deps: Deps, body: Any) -> dict:
    """POST /jobs: a new job id and one presigned POST per file, each carrying the chosen as-of date (if any) and
    the request's upload token, kept on the status item as the job's current token: once a run of the job has
    begun, the processing function refuses a replayed form's upload (docs/job-protocol.md, "Upload tokens")."""
    extensions = core.parse_create_request(body)
    names = core.original_names(body)
    now = deps.clock()
    as_of = core.chosen_as_of(body, _today(now))
    token = deps.new_token()
    for _ in range(3):                      # a uuid4 collision is astronomically rare; never reuse a job
        job_id = core.validate_job_id(deps.new_id())
        if deps.jobs.create(job_id, created_at=iso_utc(now), expires_at=int(now + settings.retention_days * 86400),
                            missing=list(core.ROLES), upload_token=token):
            break
    else:
        raise RuntimeError("could not mint a fresh job id")
    return _presigned(settings, deps, job_id, core.plan_uploads(settings, job_id, extensions, names, as_of, token))


def upload_again(settings: core.Settings, deps: Deps, job_id: Any, body: Any) -> dict:
    """POST /jobs/{job_id}/uploads: presigned POSTs for newer files into an existing job (the body as POST /jobs').
    The job's runs form a series: the run of these files compares with the job's last committed run.
    A fresh upload token pairs the two files and becomes the job's current one (the status item's): the job's
    earlier forms are spent from then on, these are spent once a run of their files has begun."""
    job_id = core.validate_job_id(job_id)
    extensions = core.parse_create_request(body)
    now = deps.clock()
    as_of = core.chosen_as_of(body, _today(now))
    objects = deps.objects.list_objects(settings.input_bucket, core.job_prefix(settings, job_id))
    if deps.jobs.get_status(job_id) is None and not objects:
        raise NotFound(f"no job {job_id}")
    token = deps.new_token()
    plans = core.plan_uploads(settings, job_id, extensions, core.original_names(body), as_of, token)
    core.replaced_files(plans, core.received_files(settings, job_id, objects))
    if as_of:
        _not_before_the_last_run(settings, deps, job_id, as_of)
    deps.jobs.renew_upload_token(job_id, token, expires_at=int(now + settings.retention_days * 86400))
    return _presigned(settings, deps, job_id, plans)


def _not_before_the_last_run(settings: core.Settings, deps: Deps, job_id: str, as_of: str) -> None:
    """A run compares only with an earlier (or the same) as-of date (memberseg.state_file.check_previous):
    refuse a date before the committed run's now rather than fail the job later."""
    item = deps.jobs.get_status(job_id)
    committed = core.committed_prefix(settings, job_id, item)
    if committed is None or (item or {}).get("status") != core.SUCCEEDED:
        return
    last = (deps.objects.read_json(settings.output_bucket, committed + REPORT_NAME) or {}).get("as_of")
    if isinstance(last, str) and as_of < last:
        raise core.BadRequest(f"as_of {as_of} is before this job's last run (as of {last}): the new run says what "
                              "changed since that one, so pick that day or a later one")


def _today(now: float) -> dt.date:
    """The day a chosen as-of date is checked against (job_protocol.parse_as_of: years, not hours, matter)."""
    return dt.datetime.fromtimestamp(now, dt.UTC).date()


def _presigned(settings: core.Settings, deps: Deps, job_id: str, plans: list[core.UploadPlan]) -> dict:
    uploads = {}
    for plan in plans:
        post = deps.objects.presigned_post(settings.input_bucket, plan.key, plan.fields(),
                                           plan.conditions(settings), core.UPLOAD_URL_TTL_S)
        uploads[plan.role] = {"url": post["url"], "fields": post["fields"], "key": plan.key,
                              "content_type": plan.content_type, "name": plan.name}
    as_of = next((plan.as_of for plan in plans if plan.as_of), None)
    return {"job_id": job_id, "uploads": uploads, "expires_in": core.UPLOAD_URL_TTL_S,
            "max_upload_bytes": settings.max_upload_bytes, "as_of": as_of}


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
    if committed:                     # which run the view shows: the page waits for a newer one after new files
        view["run_id"] = committed.rstrip("/").rsplit("/", 1)[-1]
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


# ------------------------------------------------------------------ PUT /profiles/{name}
PROFILES_LISTING_LIMIT = 1000       # as the job flow lists profiles/ (job_profiles.LISTING_LIMIT)
PROFILE_CHECK_TIMEOUT_S = 5.0       # the engine's check of a profile, well inside the API function's 10 s


def save_profile(settings: core.Settings, deps: Deps, name: Any, text: str, *, replace: bool = False) -> dict:
    """PUT /profiles/{name}: a rules file holding `profiles.<name>` (and nothing else), validated by the
    engine's rules with the organisation's other profiles, exactly as every job will read them, in a
    forked worker with the rules-file bounds; then saved as profiles/<name>.yaml. An existing profile of
    that name is replaced only with replace=True (Conflict otherwise)."""
    import yaml

    from memberseg.job_protocol import PROFILES_PLACE
    from memberseg.rules import packaged_profiles
    from memberseg.rules.bounded import RULES_MAX_BYTES

    name = core.validate_profile_name(name, frozenset(packaged_profiles()))
    data = text.encode("utf-8")
    if len(data) > RULES_MAX_BYTES:
        raise core.BadRequest(f"the rules file is {len(data):,} bytes; it may be at most {RULES_MAX_BYTES // 1024} KB")
    mine, others = _saved_profiles(settings, deps, name, replace)
    profile = _validated_profile(settings, deps, name, data, others)
    body = yaml.safe_dump(profile, sort_keys=False, allow_unicode=True).encode("utf-8")
    if len(body) > RULES_MAX_BYTES:                  # anchors expanded: a job would refuse it
        raise core.BadRequest(f"the profile is {len(body):,} bytes written out; it may be at most "
                              f"{RULES_MAX_BYTES // 1024} KB")
    key = core.profile_key(name)
    if not deps.objects.put_new(settings.input_bucket, key, body, core.PROFILE_CONTENT_TYPE, replace=bool(mine)):
        raise core.Conflict(f"a profile named '{name}' was saved meanwhile; send ?replace=true to replace it")
    for old in mine:
        if old != key:                                # profiles/x.yml replaced by profiles/x.yaml: one file per name
            deps.objects.delete(settings.input_bucket, old)
    return {"name": name, "key": key, "replaced": bool(mine), "bytes": len(body),
            "origin": f"{PROFILES_PLACE} {key}"}


def _saved_profiles(settings: core.Settings, deps: Deps, name: str, replace: bool) -> tuple[list[str], list[str]]:
    """The saved files of this profile and the organisation's other profile files; Conflict when saving would
    overwrite without `replace`, pass the job flow's cap, or sit beside a profile file every job refuses."""
    from memberseg.job_protocol import MAX_PROFILE_FILES, PROFILES_PREFIX, profile_file_name
    from memberseg.rules.bounded import RULES_MAX_BYTES

    listed = deps.objects.list_objects(settings.input_bucket, PROFILES_PREFIX, PROFILES_LISTING_LIMIT)
    stored = {key: size for key, size in listed if profile_file_name(key) is not None}
    mine = sorted(key for key in stored if PurePosixPath(key).stem == name)
    if mine and not replace:
        raise core.Conflict(f"a profile named '{name}' is saved already ({mine[0]}); send ?replace=true to replace it")
    others = sorted(key for key in stored if key not in mine)
    if len(others) + 1 > MAX_PROFILE_FILES:
        raise core.Conflict(f"{PROFILES_PREFIX} holds {len(others)} profiles; a job reads at most {MAX_PROFILE_FILES}. "
                            "Remove one that no export needs any more first.")
    too_big = [key for key in others if stored[key] > RULES_MAX_BYTES]
    if too_big:
        raise core.Conflict(f"the saved profile {too_big[0]} is over {RULES_MAX_BYTES // 1024} KB and fails every "
                            "job; correct or remove it first")
    return mine, others


def _validated_profile(settings: core.Settings, deps: Deps, name: str, data: bytes, others: list[str]) -> dict:
    """What profiles.<name> holds in the rules file `data`, once the engine accepts it beside `others`
    (memberseg.rules.bounded: a forked worker, a time bound). BadRequest names what is wrong."""
    import yaml

    from memberseg.errors import InputError
    from memberseg.job_protocol import PROFILES_PLACE
    from memberseg.rules import ProfileFile
    from memberseg.rules.bounded import load_rules_bounded

    profile_files = [ProfileFile(key, deps.objects.read_text(settings.input_bucket, key), PROFILES_PLACE)
                     for key in others]
    with tempfile.TemporaryDirectory(prefix="memberseg-profile-") as tmp:
        path = Path(tmp, "rules.yaml")
        path.write_bytes(data)
        try:
            rules = load_rules_bounded(path, profile_files=profile_files, timeout_s=PROFILE_CHECK_TIMEOUT_S)
        except InputError as exc:
            raise core.BadRequest(exc.message.replace(str(path), "rules.yaml")) from exc
    sent = yaml.safe_load(data) or {}            # parsed and validated within the bounds above: a mapping
    extra = sorted(str(key) for key in sent if key not in ("version", "profiles"))
    named = sorted(str(key) for key in (sent.get("profiles") or {}))
    besides = [*extra, *(f"profiles.{n}" for n in named if n != name)]
    if besides or name not in named:
        found = f"it also holds {', '.join(besides)}" if besides else f"it holds no profiles.{name}"
        raise core.BadRequest(f"send a rules file holding profiles.{name} and nothing else ({found})")
    profile: dict = rules.profiles[name]
    return profile


# ------------------------------------------------------------------ POST /jobs/{job_id}/rerun
def rerun_job(settings: core.Settings, deps: Deps, job_id: Any) -> dict:
    """POST /jobs/{job_id}/rerun: run a job whose last run ended FAILED again, from the same files (e.g. after
    a profile was saved for its layout). It writes the marker uploads/{job_id}/rerun.json: a new version in
    the folder is a new set of input versions (the job flow's claim and begin rules; docs/job-protocol.md),
    so the run that follows is new and newer than the failed one, whose result it replaces."""
    job_id = core.validate_job_id(job_id)
    item = deps.jobs.get_status(job_id)
    if item is None:
        raise NotFound(f"no job {job_id}")
    status = item.get("status")
    if status != core.FAILED:
        raise core.Conflict(f"only a job whose last run failed can be run again; this one is {status}")
    files = core.received_files(settings, job_id,
                                deps.objects.list_objects(settings.input_bucket, core.job_prefix(settings, job_id)))
    missing = [role for role in core.ROLES if role not in {f["role"] for f in files}]
    if missing:
        raise core.Conflict(f"the job's {' and '.join(missing)} file is gone (uploads expire); upload the files again")
    now = deps.clock()
    marker = json.dumps({"rerun_at": iso_utc(now), "after_run": item.get("committed_run")}).encode()
    deps.objects.put_new(settings.input_bucket, f"{core.job_prefix(settings, job_id)}{RERUN_NAME}", marker,
                         "application/json", replace=True)
    return {"job_id": job_id, "status": core.PROCESSING, "message": "Running the job again…"}


# ------------------------------------------------------------------ POST /jobs/{job_id}/answers
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
        raise core.Conflict("this job is not waiting for answers")
    proposal = deps.objects.read_json(settings.output_bucket, committed + PROPOSAL_JSON)
    questions = core.questions_view(proposal)
    if not questions:
        raise core.Conflict("this job's questions have expired; upload the files again")
    answers = core.parse_answers_request(body, questions)
    deps.objects.put_json(settings.input_bucket, core.job_prefix(settings, job_id) + ANSWERS_NAME, answers)
    return {"job_id": job_id, "status": core.PROCESSING, "profile_key": saved_profile_key(answers["profile_name"])}
