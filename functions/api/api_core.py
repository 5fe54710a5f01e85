"""The upload API's rules, free of AWS: job ids, upload keys, the presigned-POST policy,
and what GET /jobs/{job_id} says about a job (docs/job-protocol.md is the contract).

Every limit of the upload policy lives here (UPLOAD_*); the template passes only the
maximum size (parameter MaxUploadMB -> env MAX_UPLOAD_MB), and the page gets the same
numbers from the server (api_page.py), so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memberseg.job_protocol import (
    ANSWERS_NAME,
    AS_OF_FIELD,
    AS_OF_PARAM,
    HUBSPOT_CSV_STEM,
    ORIGINAL_NAME_FIELD,
    PROFILE_NAME_RE,
    PROFILES_PREFIX,
    PROPERTIES_NAME,
    REPORT_NAME,
    RERUN_NAME,
    ROLES,
    RUNS_FOLDER,
    STATE_NAME,
    UPLOAD_TOKEN_FIELD,
    WORKBOOK_NAME,
    JobStatus,
    PushState,
    answer_fits,
    clean_file_name,
    encode_original_name,
    file_role,
    parse_as_of,
    parse_run_id,
    user_file_name,
)

# ------------------------------------------------------------------ the upload policy (one place)
DEFAULT_MAX_UPLOAD_MB = 50
UPLOAD_MIN_BYTES = 1
UPLOAD_URL_TTL_S = 15 * 60          # presigned POST lifetime
DOWNLOAD_URL_TTL_S = 5 * 60         # presigned GET lifetime for the outputs
# the one content type each accepted extension is uploaded with (pinned by the policy)
CONTENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".xls": "application/vnd.ms-excel",
    ".csv": "text/csv",
}
EXTENSIONS = tuple(CONTENT_TYPES)

# job ids this API mints: uuid4().hex. Nothing else is ever turned into a key.
JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")
OUTPUT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

# job states (written by functions/process_upload; the contract module defines them)
WAITING_FOR_FILES = JobStatus.WAITING_FOR_FILES.value
PROCESSING = JobStatus.PROCESSING.value
SUCCEEDED = JobStatus.SUCCEEDED.value
FAILED = JobStatus.FAILED.value


class BadRequest(ValueError):
    """The client sent something we refuse (-> 400)."""


ECHO_MAX_CHARS = 40      # a 400 names what was wrong, never echoes a large or hostile value whole


def echo(value: Any) -> str:
    """A client value as a 400 may quote it: its repr, cut to ECHO_MAX_CHARS with an ellipsis."""
    text = repr(value)
    return text if len(text) <= ECHO_MAX_CHARS else text[:ECHO_MAX_CHARS - 1] + "…"


@dataclass(frozen=True)
class Settings:
    input_bucket: str
    output_bucket: str
    table_name: str
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    upload_prefix: str = "uploads/"
    results_prefix: str = "results/"
    retention_days: int = 30
    auth_enabled: bool = True
    page_as_of: str = ""            # YYYY-MM-DD the page's as-of picker starts at; "" = the browser's today

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The validated environment (api_env.ApiEnv): a bad variable fails at cold start, by name."""
        from api_env import ApiEnv

        e = ApiEnv.load(env)
        return cls(input_bucket=e.input_bucket, output_bucket=e.output_bucket, table_name=e.job_table,
                   max_upload_bytes=e.max_upload_mb * 1024 * 1024, upload_prefix=e.upload_prefix,
                   results_prefix=e.results_prefix, retention_days=e.result_retention_days,
                   auth_enabled=e.auth_enabled, page_as_of=e.page_as_of.isoformat() if e.page_as_of else "")


# ------------------------------------------------------------------ ids and keys
def new_job_id() -> str:
    return uuid.uuid4().hex


def new_upload_token() -> str:
    """One request's upload token (job_protocol.UPLOAD_TOKEN_FIELD): 128 random bits, hex. It pairs the request's
    two files and, kept on the status item as the job's current token, makes its forms single-use."""
    return uuid.uuid4().hex


def validate_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
        raise BadRequest("job id must be 32 lowercase hex characters (as returned by POST /jobs)")
    return job_id


def normalise_extension(value: Any, role: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"'{role}': give the file's extension, one of {', '.join(EXTENSIONS)}")
    ext = "." + value.strip().lower().lstrip(".")
    if ext not in CONTENT_TYPES:
        raise BadRequest(f"'{role}': extension {echo(value)} is not accepted; use one of {', '.join(EXTENSIONS)}")
    return ext


def parse_create_request(body: Any) -> dict[str, str]:
    """`{"memberships": "xlsx", "orders": ".csv"}` -> {role: ".ext"}.

    Also accepts {"files": {role: {"name": "Members Q4.xlsx"}}}: the extension is taken from the name.
    """
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object such as {\"memberships\": \"xlsx\", \"orders\": \"xlsx\"}")
    nested = body.get("files")
    files: dict[str, Any] = nested if isinstance(nested, dict) else body
    out = {}
    for role in ROLES:
        value = files.get(role)
        if isinstance(value, dict):
            name = value.get("name") or value.get("extension")
            value = name.rsplit(".", 1)[-1] if isinstance(name, str) and "." in name else name
        if value is None:
            raise BadRequest(f"'{role}' is missing: give the file's extension, one of {', '.join(EXTENSIONS)}")
        out[role] = normalise_extension(value, role)
    return out


def upload_key(settings: Settings, job_id: str, role: str, ext: str) -> str:
    validate_job_id(job_id)
    if role not in ROLES or ext not in CONTENT_TYPES:
        raise BadRequest(f"unknown upload {role}{ext}")
    return f"{settings.upload_prefix}{job_id}/{role}{ext}"


def job_prefix(settings: Settings, job_id: str) -> str:
    return f"{settings.upload_prefix}{validate_job_id(job_id)}/"


def results_prefix(settings: Settings, job_id: str) -> str:
    return f"{settings.results_prefix}{validate_job_id(job_id)}/"


def committed_prefix(settings: Settings, job_id: str, item: dict | None) -> str | None:
    """The committed run's folder named by the status item, if it is one of this job's run folders."""
    prefix = (item or {}).get("output_prefix")
    base = results_prefix(settings, job_id) + RUNS_FOLDER
    if not isinstance(prefix, str) or not prefix.startswith(base) or not prefix.endswith("/"):
        return None
    return prefix if parse_run_id(prefix[len(base):-1]) is not None else None


def original_names(body: Any) -> dict[str, str]:
    """The user's own file names, cleaned, from {"files": {role: {"name": "Members Q4.xlsx"}}}.

    A role given only its extension, or whose name cleans to nothing, is left out: its file then
    goes by its key's name, as before."""
    nested = body.get("files") if isinstance(body, dict) else None
    out = {}
    for role in ROLES:
        value = nested.get(role) if isinstance(nested, dict) else None
        name = value.get("name") if isinstance(value, dict) else None
        cleaned = clean_file_name(name) if isinstance(name, str) else ""
        if cleaned:
            out[role] = cleaned
    return out


def chosen_as_of(body: Any, today: dt.date) -> str:
    """The as-of date the request chose (`as_of`, job_protocol.parse_as_of) as YYYY-MM-DD; "" when it chose none
    (the processing function's default applies). BadRequest naming the field for anything else."""
    value = body.get(AS_OF_PARAM) if isinstance(body, dict) else None
    if value is None:
        return ""
    try:
        return parse_as_of(value, today).isoformat()
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


@dataclass(frozen=True)
class UploadPlan:
    role: str
    key: str
    content_type: str
    original_name: str = ""     # cleaned (clean_file_name); "" = none given
    as_of: str = ""             # YYYY-MM-DD (chosen_as_of); "" = none chosen
    upload_token: str = ""      # the request's, the same for both files (job_protocol.UPLOAD_TOKEN_FIELD)

    @property
    def name(self) -> str:
        """What every message of the job will call this file (job_protocol.user_file_name)."""
        return user_file_name(self.original_name, self.key.rsplit("/", 1)[-1])

    def fields(self) -> dict[str, str]:
        fields = {"Content-Type": self.content_type}
        if self.original_name:
            fields[ORIGINAL_NAME_FIELD] = encode_original_name(self.original_name)
        if self.as_of:
            fields[AS_OF_FIELD] = self.as_of
        if self.upload_token:
            fields[UPLOAD_TOKEN_FIELD] = self.upload_token
        return fields

    def conditions(self, settings: Settings) -> list:
        """The POST policy's own conditions; the signer adds bucket, key, algorithm, credential, date.
        Every field of fields() is pinned to its exact value: the name and the upload token cannot be swapped
        or left out at upload."""
        return [
            *({name: value} for name, value in self.fields().items()),
            ["content-length-range", UPLOAD_MIN_BYTES, settings.max_upload_bytes],
        ]


def plan_uploads(settings: Settings, job_id: str, extensions: dict[str, str],
                 names: Mapping[str, str] | None = None, as_of: str = "",
                 upload_token: str = "") -> list[UploadPlan]:
    names = names or {}
    return [UploadPlan(role, upload_key(settings, job_id, role, ext), CONTENT_TYPES[ext], names.get(role, ""), as_of,
                       upload_token)
            for role, ext in extensions.items()]


def replaced_files(plans: list[UploadPlan], files: list[dict]) -> None:
    """Another upload into a job: Conflict when a planned file would sit beside the job's file of that role under
    another extension (the folder would hold two memberships files, which fails the job)."""
    for plan in plans:
        planned = plan.key.rsplit("/", 1)[-1]
        other = next((f["name"] for f in files if f["role"] == plan.role and f["name"] != planned), None)
        if other is not None:
            suffix = other.rsplit(".", 1)[-1]
            raise Conflict(f"this job's {plan.role} file is {other}: upload a .{suffix} file into it again, "
                           "or start a new job for a file of another kind")


# ------------------------------------------------------------------ saving a profile (PUT /profiles/{name})
PROFILE_CONTENT_TYPE = "application/yaml; charset=utf-8"


class Conflict(ValueError):
    """The request collides with what is there (-> 409)."""


def validate_profile_name(name: Any, packaged: frozenset[str]) -> str:
    if not isinstance(name, str) or not PROFILE_NAME_RE.fullmatch(name):
        raise BadRequest("a profile's name is 1 to 64 lowercase letters, digits and _, starting with a letter "
                         f"(got {echo(name)})")
    if name in packaged:
        raise BadRequest(f"'{name}' is a packaged profile; save yours under a name of its own "
                         "(a job folder's rules.yaml can still change a packaged profile)")
    return name


def profile_key(name: str) -> str:
    return f"{PROFILES_PREFIX}{name}.yaml"


def replace_flag(query: Mapping[str, str] | None) -> bool:
    value = (query or {}).get("replace", "false").strip().lower()
    if value not in ("true", "false"):
        raise BadRequest(f"replace must be true or false (got {echo(value)})")
    return value == "true"


# ------------------------------------------------------------------ what a job looks like to the page
def received_files(settings: Settings, job_id: str, objects: list[tuple[str, int]]) -> list[dict]:
    """(key, size) under uploads/{job_id}/ -> [{role, name, size}] (role None for stray files)."""
    prefix = job_prefix(settings, job_id)
    out = []
    for key, size in sorted(objects):
        name = key[len(prefix):] if key.startswith(prefix) else key.rsplit("/", 1)[-1]
        if name in (RERUN_NAME, ANSWERS_NAME):    # the rerun marker and the page's answers: no file of the user's
            continue
        role = file_role(name)          # the processing function's rule (one contract)
        out.append({"role": role if role in ROLES else None, "name": name, "size": int(size)})
    return out


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def summarise_report(report: dict, labels: dict[str, str] | None = None) -> dict:
    """report.json -> the numbers the page shows (customers = memberships kept)."""
    labels = labels or {}
    members = report.get("memberships") or {}
    orders = report.get("orders") or {}
    hubspot = report.get("hubspot") or {}
    segments = [{"name": name, "label": labels.get(name) or name.replace("_", " ").capitalize(), "count": _int(n)}
                for name, n in (report.get("segment_counts") or {}).items()]
    return {
        "as_of": report.get("as_of"),
        "customers": _int(members.get("kept")),
        "membership_rows": _int(members.get("rows_in")),
        "consolidated": _int(members.get("consolidated")),
        "rejected": _int(members.get("rejected")),
        "orders": {k: orders.get(k) for k in ("rows_in", "matched", "unmatched", "rejected") if k in orders},
        "status_counts": {str(k): _int(v) for k, v in (report.get("status_counts") or {}).items()},
        "segments": segments,
        "tier_counts": {str(k): _int(v) for k, v in (report.get("tier_counts") or {}).items()},
        "hubspot_rows": _int(hubspot.get("rows")),
        "hubspot_left_out": _int(hubspot.get("left_out")),
        "excluded": _int(members.get("excluded")),
        "inputs": _input_profiles(report),
        **_swapped(report),
        **_changes(report),
    }


def _changes(report: dict) -> dict[str, dict]:
    """{"changes": …}: what changed since the job's previous run (report.json `changes` and its sentence
    `changes_summary`); nothing for a report written before runs formed a series."""
    changes = report.get("changes")
    if not isinstance(changes, dict):
        return {}
    since = changes.get("since")
    return {"changes": {
        "since": since if isinstance(since, str) else None,
        "summary": str(report.get("changes_summary") or ""),
        **{name: _int(changes.get(name)) for name in ("new", "gone", "status_changed")},
        **{name: _counts(changes.get(name)) for name in ("entered", "left")},
    }}


def _counts(value: Any) -> dict[str, int]:
    return {str(k): _int(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _swapped(report: dict) -> dict[str, str]:
    """{"swapped": why} when the engine read the two files in each other's place (report.json inputs.swapped)."""
    inputs = report.get("inputs") or {}
    if isinstance(inputs, dict) and inputs.get("swapped") is True:
        return {"swapped": str(inputs.get("swapped_reason") or "")}
    return {}


def _input_profiles(report: dict) -> dict[str, dict]:
    """Which profile read each file, the headers that decided it (report.json inputs.<role>.profile),
    and that layout in plain words (`read_as`)."""
    out = {}
    for role, info in (report.get("inputs") or {}).items():
        profile = info.get("profile") if isinstance(info, dict) else None
        if isinstance(profile, dict) and isinstance(profile.get("name"), str):
            title = str(profile.get("title") or "")
            headers = [str(h) for h in profile.get("deciding_headers") or []]
            out[str(role)] = {"file": str(info.get("file") or ""), "profile": profile["name"], "title": title,
                              "deciding_headers": headers, "read_as": read_as(profile, headers)}
            if profile.get("chosen_by") == INFERRED:
                out[str(role)]["evidence"] = inferred_evidence(profile)
    return out


OWN_LAYOUT_HEADERS_SHOWN = 2
INFERRED = "inferred"            # report.json inputs.<role>.profile.chosen_by of a layout worked out from the file
INFERRED_READ_AS = "a layout memberseg worked out from the file's headers and values"
EVIDENCE_SHOWN = 8


def inferred_evidence(profile: dict) -> list[str]:
    """The evidence of an inferred layout's decisions, in the engine's words ("header 'Email' is a known
    email header and its values are email addresses"), the first EVIDENCE_SHOWN."""
    items = [item for item in profile.get("evidence") or [] if isinstance(item, dict) and item.get("evidence")]
    return [str(item["evidence"])[:300] for item in items[:EVIDENCE_SHOWN]]


def read_as(profile: dict, headers: list[str]) -> str:
    """A file's layout in plain words: the profile's `plain_name` ("Stripe subscriptions export"), or for a
    layout the user keeps themselves (no plain name) "your own layout (columns Cust ID, Customer Name, …)";
    never the profile's internal title with its asides in brackets."""
    if profile.get("chosen_by") == INFERRED:
        return INFERRED_READ_AS
    plain = profile.get("plain_name")
    if isinstance(plain, str) and plain:
        return plain
    if "plain_name" not in profile and profile.get("title") and profile.get("name") != "standard":
        # a report written before profiles named themselves in plain words: the title without asides
        return re.sub(r"\s*\([^)]*\)", "", str(profile["title"])).strip()
    shown = headers[:OWN_LAYOUT_HEADERS_SHOWN]
    more = ", …" if len(headers) > len(shown) else ""
    return f"your own layout (columns {', '.join(shown)}{more})" if shown else "your own layout"


def property_labels(properties: dict | None) -> dict[str, str]:
    """hubspot_properties.json inputs[] -> {name: label}."""
    out = {}
    for item in (properties or {}).get("inputs") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("label"), str):
            out[item["name"]] = item["label"]
    return out


DOWNLOAD_KINDS = (   # (kind, label, how to recognise the output name)
    ("workbook", "Segment workbook (.xlsx)", re.compile("^" + re.escape(WORKBOOK_NAME) + "$")),
    ("hubspot_csv", "HubSpot contacts (.csv)", re.compile("^" + HUBSPOT_CSV_STEM + r"(_\d+)?\.csv$")),
    ("properties", "HubSpot property definitions (.json)", re.compile("^" + re.escape(PROPERTIES_NAME) + "$")),
    ("state", "Customer state, for the next run's --since (.csv.gz)", re.compile("^" + re.escape(STATE_NAME) + "$")),
    ("report", "Run report (.json)", re.compile("^" + re.escape(REPORT_NAME) + "$")),
)


def output_downloads(report: dict) -> list[dict]:
    """The outputs report.json lists, each as {kind, label, name} (unknown or unsafe names are dropped)."""
    out = []
    names = [n for n in (report.get("outputs") or []) if isinstance(n, str) and OUTPUT_NAME_RE.fullmatch(n)]
    for kind, label, pattern in DOWNLOAD_KINDS:
        matching = sorted(n for n in names if pattern.fullmatch(n))
        for name in matching:
            part = name.rsplit("_", 1)[-1].split(".")[0]
            suffix = f" – part {part}" if kind == "hubspot_csv" and len(matching) > 1 else ""
            out.append({"kind": kind, "label": label + suffix, "name": name})
    return out


def status_message(status: str, files: list[dict], error: dict | None = None) -> str:
    """The job's state in plain words."""
    have = {f["role"] for f in files if f.get("role")}
    if status == SUCCEEDED:
        return "Done: your customers are segmented and the files are ready to download."
    if status == FAILED:
        message = (error or {}).get("message") or "The job failed."
        return message
    if status == PROCESSING:
        return "Both files received. Segmenting your customers…"
    missing = [r for r in ROLES if r not in have]
    if not missing:
        return "Both files received. Starting the job…"
    if len(missing) == len(ROLES):
        return "Waiting for the memberships and orders files."
    return f"Received the {next(iter(have))} file; waiting for the {missing[0]} file."


ACCEPTED_HEADERS_RE = re.compile(r"Accepted headers: (.+?)\. Headers found")


def plain_error(error: dict | None) -> dict:
    """error.json's error for the page: code, message and file, plus what the page's advice needs:
    for a missing column the field, the other missing ones, the headers that would be accepted and, for a
    date the export lacks, the profile keys that can stand in for it;
    for an error about both files, both file names (`files`); for needs_answers the open questions' ids."""
    error = error or {}
    message = str(error.get("message") or "The job failed for an unknown reason.")
    view: dict[str, Any] = {"code": str(error.get("code") or "error"), "message": message, "file": error.get("file")}
    if isinstance(error.get("column"), str):
        view["column"] = error["column"]
    details = error.get("details")
    if not isinstance(details, dict):
        details = {}
    problems = details.get("problems")
    if isinstance(problems, list) and len(problems) > 1:
        view["files"] = [p.get("file") for p in problems if isinstance(p, dict)]
    missing = details.get("missing")
    if isinstance(missing, list):
        view["missing"] = [str(name) for name in missing]
    stand_ins = details.get("stand_ins")    # what a profile can say instead of a date the export lacks
    if isinstance(stand_ins, list):
        view["stand_ins"] = [str(key) for key in stand_ins]
    questions = details.get("questions")      # needs_answers: the ids of the open questions
    if isinstance(questions, list):
        view["questions"] = [str(question) for question in questions]
    # error.json's details do not list the accepted headers; its message does (headers.missing_column_error)
    accepted = ACCEPTED_HEADERS_RE.search(message) if view["code"] == "missing_column" else None
    if accepted:
        view["accepted"] = accepted.group(1).split(", ")
    return view


HUBSPOT_MESSAGES = {
    PushState.PUSHING: "Sending the contacts to HubSpot…",
    PushState.RETRYING: "HubSpot did not answer clearly; trying again shortly (no contact is imported twice).",
    PushState.DONE: "Imported into HubSpot.",
    PushState.ROW_ERRORS: "Imported into HubSpot, but HubSpot refused some rows.",
    PushState.FAILED: "The contacts could not be sent to HubSpot.",
    PushState.SKIPPED: "Not sent to HubSpot: this job's rules say hubspot.push: false.",
}


def hubspot_view(item: dict | None) -> dict | None:
    """The HubSpot push of the committed run (status item `hubspot`), or None when there is none.

    A push record of an earlier run is not shown: it says nothing about the results on the page.
    """
    hubspot = (item or {}).get("hubspot")
    if not isinstance(hubspot, dict) or hubspot.get("run") != (item or {}).get("committed_run"):
        return None
    try:
        state = PushState(str(hubspot.get("state")))
    except ValueError:
        return None
    message = str(hubspot.get("message") or "") if state == PushState.SKIPPED else ""
    view: dict[str, Any] = {"state": state.value, "message": message or HUBSPOT_MESSAGES[state],
                            "created": _int(hubspot.get("created")), "updated": _int(hubspot.get("updated")),
                            "errors": _int(hubspot.get("errors")),
                            "first_errors": [{"file": e.get("file"), "line": e.get("line"),
                                              "message": str(e.get("message") or "")}
                                             for e in hubspot.get("first_errors") or [] if isinstance(e, dict)]}
    if state == PushState.FAILED:
        view["error"] = str((hubspot.get("error") or {}).get("message") or "unknown reason")
    return view


# ------------------------------------------------------------------ a job that stopped to ask (needs_answers)
QUESTION_KEYS = ("id", "kind", "file", "role", "prompt", "choices", "candidates", "suggested", "custom")
MAX_QUESTIONS = 200


def default_profile_name(file_name: str | None) -> str:
    """A profile name from a file's name: "Patreon members 2026.csv" -> "patreon_members_2026"."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", file_name or "")
    name = re.sub(r"[^a-z0-9]+", "_", unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode().lower())
    name = name.strip("_")[:PROFILE_NAME_MAX]
    if not name or not name[0].isalpha():
        name = ("my_export_" + name).strip("_")[:PROFILE_NAME_MAX]
    return name.rstrip("_")


PROFILE_NAME_MAX = 40


def questions_view(proposal: dict | None) -> list[dict]:
    """proposal.json's questions as the page shows them (their known keys only)."""
    questions = (proposal or {}).get("questions")
    if not isinstance(questions, list):
        return []
    return [{key: q[key] for key in QUESTION_KEYS if key in q}
            for q in questions[:MAX_QUESTIONS] if isinstance(q, dict) and isinstance(q.get("id"), str)]


def mapping_view(job_id: str, committed: str, proposal: dict | None) -> dict:
    """What the page's mapping step needs: the questions, a default profile name, where to send the answers,
    and the run that asked (`run_id`: the page waits for a newer run once it answered)."""
    questions = questions_view(proposal)
    files = {q.get("role"): q.get("file") for q in questions}
    first = files.get("memberships") or files.get("orders")
    return {"questions": questions, "profile_name": default_profile_name(first if isinstance(first, str) else None),
            "answers_url": f"/jobs/{job_id}/answers", "run_id": committed.rstrip("/").rsplit("/", 1)[-1]}


def parse_answers_request(body: Any, questions: list[dict]) -> dict:
    """POST /jobs/{id}/answers: `{"profile_name": NAME, "answers": {question id: answer}}`, every question
    answered with one of its choices or a custom answer it allows (job_protocol.answer_fits: a season's start
    day, an item's first words) -> answers.json's content. (The engine checks the answers again
    when it applies them: this only refuses early what can never fit.)"""
    if not isinstance(body, dict):
        raise BadRequest('send {"profile_name": "...", "answers": {"<question id>": <answer>}}')
    name = body.get("profile_name")
    if not isinstance(name, str) or not PROFILE_NAME_RE.fullmatch(name):
        raise BadRequest(f"profile_name {echo(name)}: use 1 to 64 lower-case letters, digits and _, "
                         "starting with a letter")
    answers = body.get("answers")
    if not isinstance(answers, dict):
        raise BadRequest("answers must be an object of question id -> answer")
    by_id = {q["id"]: q for q in questions}
    unknown = [key for key in answers if key not in by_id]
    if unknown:
        raise BadRequest(f"no question {echo(unknown[0])} in this job")
    missing = [qid for qid in by_id if qid not in answers]
    if missing:
        raise BadRequest(f"question {echo(missing[0])} is not answered")
    for qid, answer in answers.items():
        if not answer_fits(by_id[qid], answer):
            raise BadRequest(f"the answer {echo(answer)} to {echo(qid)} is not one of its choices")
    return {"profile_name": name, "answers": answers}
