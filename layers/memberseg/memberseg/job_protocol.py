"""The job protocol's shared names: one definition for the engine, the processing function,
the sweeper and the upload API (docs/job-protocol.md is the prose contract).

Pure standard library, no boto3, no pandas: the upload API function ships this file (and
memberseg/__init__.py, which imports nothing) without the engine layer, so importing it must
stay cheap. tests/unit/jobs/test_job_protocol.py guards that.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

# ------------------------------------------------------------------ where things live
UPLOAD_PREFIX = "uploads/"           # uploads/{job_id}/{file} in the input bucket
RESULTS_PREFIX = "results/"          # results/{job_id}/ in the output bucket
RUNS_FOLDER = "runs/"                # results/{job_id}/runs/{run_id}/: one run's own outputs
STATES_FOLDER = "states/"            # results/{job_id}/states/{run_id}.csv.gz: the last committed runs' states
STATE_SUFFIX = ".csv.gz"
# results/{job_id}/states/{run_id}.hubspot_accepted.json: what HubSpot took at that run's push (the push function)
ACCEPTED_SUFFIX = ".hubspot_accepted.json"
STATUS_SK = "STATUS"                 # the job's status item: {job_id, sk: "STATUS"}
RUN_SK_PREFIX = "RUN#"               # one run item per set of input versions: RUN#{fingerprint}

# The organisation's own profiles: profiles/{name}.yaml (or .yml) in the input bucket, read by every job
# (memberseg.rules.ProfileFile), never a job's trigger. Each is at most the rules-file bound
# (memberseg.rules.bounded.RULES_MAX_BYTES); a job reads at most MAX_PROFILE_FILES of them, and a
# folder that holds more fails the job (invalid_rules) rather than leaving some out.
PROFILES_PREFIX = "profiles/"
PROFILE_SUFFIXES = (".yaml", ".yml")
MAX_PROFILE_FILES = 20
PROFILES_PLACE = "input bucket"      # how a profile's origin is named: "input bucket profiles/acme.yaml"


def profile_file_name(key: str, prefix: str = PROFILES_PREFIX) -> str | None:
    """`profiles/acme.yaml` -> "acme.yaml" for a profile file directly under the prefix; None for anything
    else (a sub-folder, a folder placeholder, another suffix)."""
    if not key.startswith(prefix):
        return None
    name = key[len(prefix):]
    if not name or "/" in name or PurePosixPath(name).suffix.lower() not in PROFILE_SUFFIXES:
        return None
    return name


def run_sk(fingerprint: str) -> str:
    return f"{RUN_SK_PREFIX}{fingerprint}"


def job_results_prefix(job_id: str, results_prefix: str = RESULTS_PREFIX) -> str:
    return f"{results_prefix}{job_id}/"


def run_results_prefix(job_id: str, run_id: str, results_prefix: str = RESULTS_PREFIX) -> str:
    """Every run writes only here; the status item names the committed one (its output_prefix)."""
    return f"{results_prefix}{job_id}/{RUNS_FOLDER}{run_id}/"


def state_key(job_id: str, run_id: str, results_prefix: str = RESULTS_PREFIX) -> str:
    """A run's customer state, kept beside the job's runs (older run folders go; the last N states stay)."""
    return f"{results_prefix}{job_id}/{STATES_FOLDER}{run_id}{STATE_SUFFIX}"


def accepted_key(job_id: str, run_id: str, results_prefix: str = RESULTS_PREFIX) -> str:
    """Beside a run's kept state: the `accepted` record of its push, which the job's next push compares with."""
    return f"{results_prefix}{job_id}/{STATES_FOLDER}{run_id}{ACCEPTED_SUFFIX}"


# ------------------------------------------------------------------ run ids
# One attempt of one set of input versions: {input_seq:015d}-{fingerprint[:16]}-a{attempt}, e.g.
# 001763195400000-5c47394a26eb1224-a1. The zero-padded input_seq first orders run folders by their inputs.
_RUN_ID = re.compile(r"([0-9]{1,20})-([0-9a-f]{16})-a([0-9]{1,3})")


class RunId(NamedTuple):
    input_seq: int
    fingerprint: str        # the fingerprint's first 16 hex digits
    attempt: int


def format_run_id(input_seq: int, fingerprint: str, attempt: int) -> str:
    return f"{input_seq:015d}-{fingerprint[:16]}-a{attempt}"


def parse_run_id(text: str) -> RunId | None:
    """A run folder's name as its parts; None for anything that is not a run id."""
    match = _RUN_ID.fullmatch(text)
    if match is None:
        return None
    seq, fingerprint, attempt = match.groups()
    return RunId(int(seq), fingerprint, int(attempt))


# ------------------------------------------------------------------ output names
WORKBOOK_NAME = "membership_segments.xlsx"
HUBSPOT_CSV_STEM = "hubspot_contacts"            # hubspot_contacts.csv or hubspot_contacts_1.csv, _2, …
PROPERTIES_NAME = "hubspot_properties.json"
REPORT_NAME = "report.json"                      # written last: it marks a complete set
STATE_NAME = "customer_state.csv.gz"             # one row per customer: what the next run compares with
ERROR_NAME = "error.json"                        # alone, when the run failed
PROPOSAL_JSON = "proposal.json"                  # beside error.json when the run stops to ask (needs_answers)
PROPOSAL_YAML = "proposal.yaml"                  # the same draft as a rules file
FINISHED_PROFILE_NAME = "profile.yaml"           # a run completed by answers: the finished profile it read with


# ------------------------------------------------------------------ answering a job that stopped to ask
# A run that cannot infer a profile for sure ends FAILED with this code and keeps proposal.json beside
# error.json; the API serves its questions. The page's answers go to uploads/{job_id}/answers.json
# ({"profile_name": NAME, "answers": {question id: answer}}): a new file version, so the job runs again,
# completes the draft with the engine's own answer-applying code, and saves the finished profile as
# profiles/{NAME}.yaml in the input bucket, which every later job reads.
NEEDS_ANSWERS = "needs_answers"
ANSWERS_NAME = "answers.json"
ANSWERS_MAX_BYTES = 64 * 1024
PROFILE_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")     # a profile's name (fullmatch), also its file's stem

# A question may take answers beyond its choices: its `custom` maps the one key such an answer holds to the
# kind of that key's value, e.g. {"season_start": "day"} takes {"season_start": "10-01"}.
CUSTOM_ANSWER_KINDS = {"text": "a text, not blank", "day": "a day of the year as MM-DD (09-01 is 1 September)"}


def _custom_value_fits(kind: str, value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    if kind == "text":
        return len(value) <= 200
    if kind == "day":
        found = re.fullmatch(r"(\d\d)-(\d\d)", value)
        try:
            return found is not None and bool(dt.date(2001, int(found[1]), int(found[2])))   # every year has it
        except ValueError:
            return False
    return False


def answer_fits(question: dict[str, Any], answer: Any) -> bool:
    """Whether `answer` is one of the question's choices, or a custom answer its `custom` allows."""
    if answer in (question.get("choices") or []):
        return True
    custom = question.get("custom") or {}
    if not isinstance(answer, dict) or len(answer) != 1 or not isinstance(custom, dict):
        return False
    [(key, value)] = answer.items()
    return key in custom and _custom_value_fits(str(custom[key]), value)


def saved_profile_key(name: str) -> str:
    """Where the page's finished profile NAME is kept: profiles/NAME.yaml in the input bucket."""
    return f"{PROFILES_PREFIX}{name}.yaml"


# ------------------------------------------------------------------ states
class JobStatus(StrEnum):
    """The status item's `status` (what the API and the page show)."""
    WAITING_FOR_FILES = "WAITING_FOR_FILES"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class RunStatus(StrEnum):
    """A run item's `run_status` (internal to the processing function and the sweeper)."""
    PROCESSING = "PROCESSING"        # claimed; lease_expires_at says whether its attempt is alive
    RETRYING = "RETRYING"            # an attempt failed transiently; Lambda's retry may take it
    SUCCEEDED = "SUCCEEDED"          # committed with outputs
    FAILED = "FAILED"                # committed with error.json (final)
    SUPERSEDED = "SUPERSEDED"        # never committed: newer inputs arrived
    REFUSED = "REFUSED"              # never began: a data file came through a spent upload form (a replay)


FINAL_RUN_STATES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUPERSEDED, RunStatus.REFUSED})


# ------------------------------------------------------------------ events
EVENT_SOURCE = "memberseg.jobs"
SUCCEEDED_DETAIL_TYPE = "Segmentation Job Succeeded"
FAILED_DETAIL_TYPE = "Segmentation Job Failed"
HUBSPOT_FINISHED_DETAIL_TYPE = "HubSpot Import Finished"
HUBSPOT_FAILED_DETAIL_TYPE = "HubSpot Import Failed"


# ------------------------------------------------------------------ the HubSpot push (opt-in)
HUBSPOT_IMPORT_NAME = "hubspot_import.json"      # written by the push next to the committed run's outputs
HUBSPOT_DELTA_FOLDER = "hubspot_delta"           # beside it: the CSV rows a push of only what changed sends
SINCE_FOLDER_KEY = "since_folder"                # report.json (CLI): the --since folder, where the push compares
# report.json hubspot: the run's hubspot.gone_customers (clear | keep), so the push clears what HubSpot holds alike
GONE_CUSTOMERS_KEY = "gone_customers"
# The status item's pointer to the last push that ended DONE or ROW_ERRORS: {run, state_key, record_key}, the
# state it made current and its accepted record (ACCEPTED_SUFFIX). Set with that push's outcome, in one write.
HUBSPOT_ACCEPTED_ATTRIBUTE = "hubspot_accepted"


class PushState(StrEnum):
    """The status item's `hubspot.state` (the push of one committed run; docs/job-protocol.md)."""
    PUSHING = "PUSHING"              # claimed; `lease_until` says whether its attempt is alive
    RETRYING = "RETRYING"            # a transient fault; Lambda's retry resumes it (never a second import)
    DONE = "DONE"                    # every import DONE, no row errors
    ROW_ERRORS = "ROW_ERRORS"        # the imports finished, some rows failed (listed in hubspot_import.json)
    FAILED = "FAILED"                # nothing (or not everything) was imported: `error` says why
    SKIPPED = "SKIPPED"              # the job's rules say hubspot.push: false


FINAL_PUSH_STATES = frozenset({PushState.DONE, PushState.ROW_ERRORS, PushState.FAILED, PushState.SKIPPED})


# ------------------------------------------------------------------ error codes of the job flow
class ErrorCode(StrEnum):
    """Codes the job flow itself writes into error.json (the engine adds its own input codes)."""
    UNRECOGNISED_FILE = "unrecognised_file"
    AMBIGUOUS_FILE = "ambiguous_file"
    RULES_TOO_LARGE = "rules_too_large"
    FILE_TOO_LARGE = "file_too_large"
    TIMEOUT = "timeout"
    ENGINE_ERROR = "engine_error"          # the engine's own code raised on these inputs: final, never retried
    # a worker the kernel killed for memory (written by the engine, memberseg.isolation): final, never
    # retried, as the same files in the same memory are killed again
    TOO_LARGE_FOR_MEMORY = "too_large_for_memory"
    INVALID_AS_OF = "invalid_as_of"        # a data file's as-of metadata is not a date the API would take
    INTERNAL_ERROR = "internal_error"


# ------------------------------------------------------------------ file roles
ROLES = ("memberships", "orders")
DATA_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".csv")
RULES_NAMES = ("rules.yaml", "rules.yml", "rules.toml")
# POST /jobs/{job_id}/rerun writes this small marker into the job folder: a new version of it makes the
# folder a new set of input versions (a new fingerprint, newer input_seq), so the job runs again from
# the same data files. It is never read; the job flow downloads only the data files and rules.
RERUN_NAME = "rerun.json"
RERUN_ROLE = "rerun"


def file_role(name: str) -> str | None:
    """The role of a file name inside a job folder: memberships, orders, rules, rerun (the marker), answers,
    or None.

    A name (the part after uploads/{job_id}/, no sub-folders) that starts with the role and has
    one of the data extensions, case-insensitively; rules by exact name.
    """
    if not name or "/" in name:
        return None
    folded = name.casefold()
    if folded in RULES_NAMES:
        return "rules"
    if folded == ANSWERS_NAME:
        return "answers"
    if folded == RERUN_NAME:
        return RERUN_ROLE
    suffix = PurePosixPath(folded).suffix
    for role in ROLES:
        if folded.startswith(role) and suffix in DATA_EXTENSIONS:
            return role
    return None


# ------------------------------------------------------------------ upload tokens: one per request for forms
# Every API request that issues presigned POSTs (POST /jobs, POST /jobs/{job_id}/uploads) mints one upload token,
# pins it in both of its forms as user metadata and records it on the status item as the job's current token
# (UPLOAD_TOKEN_ATTRIBUTE). It does two things (docs/job-protocol.md, "Upload tokens"):
# - pairing: the two files of one request carry the same token. Newer files into a job land one after the
#   other: a run whose data files carry two different tokens is half of an upload still landing, and steps aside
#   (SUPERSEDED) for the run of the whole pair, so the job's series never compares a half-new mix.
# - single use: once a run of the job has begun, a data file version that is not the one the status item holds
#   for its role, yet carries an older token (a form the job has replaced) or the current token that the held
#   version of its role carries already (a form used already), is a replay: the processing function refuses it
#   without touching the status. A file without a token (dropped straight into the bucket) pairs with anything
#   and is never refused.
UPLOAD_TOKEN_METADATA = "upload-token"  # noqa: S105 - a metadata key, not a secret
UPLOAD_TOKEN_FIELD = f"x-amz-meta-{UPLOAD_TOKEN_METADATA}"    # the presigned POST's form field
UPLOAD_TOKEN_ATTRIBUTE = "upload_token"  # noqa: S105 - the status item's attribute name (the API writes it)


# ------------------------------------------------------------------ the user's own file names
# The page uploads each file to a fixed key (uploads/{job_id}/memberships.xlsx); the name the user
# chose travels as user metadata, percent-encoded UTF-8 (S3 user metadata is US-ASCII; S3 itself
# decodes and re-encodes RFC 2047 values, moto does not, so only plain ASCII reads back the same).
ORIGINAL_NAME_METADATA = "original-name"                      # head_object's Metadata key
ORIGINAL_NAME_FIELD = f"x-amz-meta-{ORIGINAL_NAME_METADATA}"  # the presigned POST's form field
FILE_NAME_MAX_CHARS = 200
FILE_NAME_MAX_BYTES = 240          # UTF-8; a key's extension appended still fits a file name (255 bytes)
_KEPT_SUFFIX_CHARS = 10            # a suffix up to this long survives the length cap
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})   # controls, bidi overrides, ...


def _clean_once(text: str) -> str:
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cs")   # lone surrogates: not UTF-8
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if ch.isspace() else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = re.split(r"[/\\]", text)[-1]                 # a path (C:\fakepath\x.xlsx): its last part
    name = name.strip(" .")                                # never "", ".", "..", a hidden or a dangling name
    if len(name) <= FILE_NAME_MAX_CHARS and len(name.encode()) <= FILE_NAME_MAX_BYTES:
        return name
    stem, dot, suffix = name.rpartition(".")
    suffix = dot + suffix if dot and len(suffix) <= _KEPT_SUFFIX_CHARS else ""
    stem = name[:len(name) - len(suffix)][:FILE_NAME_MAX_CHARS - len(suffix)]
    while stem and len((stem + suffix).encode()) > FILE_NAME_MAX_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") + suffix).strip(" .")


def clean_file_name(text: str) -> str:
    """A user's file name as one safe path component: no folders, no control or bidi-override
    characters, NFC, at most FILE_NAME_MAX_CHARS / FILE_NAME_MAX_BYTES, not starting or ending in a
    dot or space (so never "." or ".."), its extension kept when the name is shortened.
    "" when nothing is left (the caller falls back to the key's own name)."""
    for _ in range(4):                                     # shortening can un-normalise; settle it
        cleaned = _clean_once(text)
        if cleaned == text:
            break
        text = cleaned
    return cleaned


def encode_original_name(name: str) -> str:
    """The metadata value for a name (cleaned first): percent-encoded UTF-8, plain ASCII."""
    return quote(clean_file_name(name), safe="")


def decode_original_name(value: str | None) -> str:
    """The name a metadata value carries, cleaned again (it is untrusted); "" when none."""
    return clean_file_name(unquote(value or "", errors="replace"))


def user_file_name(original: str | None, key_name: str) -> str:
    """The name a job's input goes by in every message, error.json and report.json: the user's own
    (cleaned), ending in the key's extension (which decided the file's role and kind), else the
    key's own name."""
    name = clean_file_name(original or "")
    if not name:
        return key_name
    extension = PurePosixPath(key_name).suffix
    same = PurePosixPath(name).suffix.lower() == extension.lower()      # as the engine reads a suffix
    return name if same else name + extension


# ------------------------------------------------------------------ the as-of date the page chose
# POST /jobs (and POST /jobs/{job_id}/uploads) take {"as_of": "2026-11-15"}: the date the membership statuses
# are worked out at. It travels like the file's name, as user metadata of each data file pinned by its presigned
# POST, so it belongs to those file versions: a re-run of them uses it again. A run takes the memberships
# file's (else the orders file's), in preference to the processing function's JOB_AS_OF, else today.
AS_OF_PARAM = "as_of"                             # the request's field, named in every message about it
AS_OF_METADATA = "as-of"                          # head_object's Metadata key
AS_OF_FIELD = f"x-amz-meta-{AS_OF_METADATA}"      # the presigned POST's form field
AS_OF_MAX_DAYS = 5 * 366                          # a chosen date is at most about five years from today


def parse_as_of(value: Any, today: dt.date) -> dt.date:
    """A chosen as-of date: YYYY-MM-DD, a real day, at most AS_OF_MAX_DAYS from `today`.
    ValueError naming the field (AS_OF_PARAM) and the value otherwise."""
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
    found = re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) if isinstance(value, str) else None
    try:
        day = dt.date.fromisoformat(value) if found else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"{AS_OF_PARAM} must be a real date written YYYY-MM-DD, such as 2026-11-15 (got {shown})")
    if abs((day - today).days) > AS_OF_MAX_DAYS:
        raise ValueError(f"{AS_OF_PARAM} {day.isoformat()} is more than five years from today ({today.isoformat()}); "
                         "pick a date nearer to now")
    return day


# ------------------------------------------------------------------ timestamps
def iso_utc(ts: float) -> str:
    """The one timestamp format of every item and event: 2026-11-15T08:30:00Z."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ job table values
def to_item_value(value: Any) -> Any:
    """A value as the job table stores it: floats as Decimal, enums as their text, None dropped in maps."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): to_item_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_item_value(v) for v in value]
    return value


def from_item_value(value: Any) -> Any:
    """A job-table value as plain Python: the table's Decimals as int or float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_item_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [from_item_value(v) for v in value]
    return value
