"""The steps of `memberseg push`: send a finished run's HubSpot files to a HubSpot portal, safely.

Steps: ensure the property group; read every contact property once; create the missing
properties and add missing dropdown options (a property of another type stops the push);
start one import per CSV part; poll each to a terminal state; page through its row errors.
The result goes to DIR/hubspot_import.json, rewritten after every step, so an interrupted
push can be resumed without a second import: HubSpot has no idempotency key, so after an
unclear answer to the import POST we look for our import by its run-specific name first.

A run made with `--since` sends only what changed since the push of that folder's run (`delta`); which
rows go is decided once, recorded before the first import, and kept when an interrupted push resumes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..job_protocol import (
    ERROR_NAME,
    GONE_CUSTOMERS_KEY,
    HUBSPOT_DELTA_FOLDER,
    HUBSPOT_IMPORT_NAME,
    PROPERTIES_NAME,
    REPORT_NAME,
    SINCE_FOLDER_KEY,
)
from ..timing import MessageCallback
from .client import HubSpotClient, Multipart, OutcomeUnknown
from .delta import (
    ACCEPTED_KEY,
    AcceptedState,
    DeltaPlan,
    accepted_record,
    counts_text,
    plan_delta,
    previous_accepted,
    write_delta,
)

TERMINAL_STATES = frozenset({"DONE", "FAILED", "CANCELED", "REVERTED"})
ACTIVE_STATES = frozenset({"STARTED", "PROCESSING", "DEFERRED"})
SUBMITTING = "SUBMITTING"           # our own marker: the POST went out, no import id known yet
PROPERTIES_PATH = "/crm/v3/properties/contacts"
GROUPS_PATH = "/crm/v3/properties/contacts/groups"
IMPORTS_PATH = "/crm/v3/imports/"   # as HubSpot's Python client posts it


class PushError(Exception):
    """The push cannot go on; `exit_code` 2 for bad input or configuration, 1 for internal faults."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass
class PushSettings:
    deadline_seconds: float = 3600.0    # the whole push, polling included
    poll_first_seconds: float = 2.0
    poll_max_seconds: float = 30.0
    max_errors_per_import: int = 1000   # row errors recorded per import; the counters still give the total
    errors_page_size: int = 100
    lookup_pages: int = 20              # pages of GET /crm/v3/imports/ searched for our import's name
    import_post_attempts: int = 3
    push_token: str | None = None       # makes import names unique per push; generated when None


@dataclass
class RunOutputs:
    """What a finished run left in DIR, checked before anything goes to HubSpot."""

    directory: Path
    run_id: str
    as_of: str
    group: dict
    properties: list[dict]
    import_requests: dict[str, dict]    # CSV file name -> its importRequest
    files: list[Path]                   # what this push uploads: the run's CSV parts, or DIR/hubspot_delta/'s
    since: Path | None = None           # the --since folder of the run (CLI): what HubSpot accepted is there
    clear_gone: bool = False            # the run's hubspot.gone_customers is `clear` (report.json)


@dataclass
class PropertyPlan:
    create: list[dict] = field(default_factory=list)
    patch: dict[str, list[dict]] = field(default_factory=dict)    # name -> the full new options list
    added_options: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass
class PushOutcome:
    exit_code: int
    result: dict | None                 # what hubspot_import.json holds (None after a dry run)
    messages: list[str]                 # for stdout: the plan (dry run) or the summary


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PushError(f"{path} cannot be read as JSON: {exc}") from exc


def load_outputs(directory: Path) -> RunOutputs:
    """The run's report, property definitions and CSV parts; PushError (exit 2) when any is missing."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PushError(f"{directory} is not a folder; give the --out folder of a finished `memberseg run`.")
    report_path = directory / REPORT_NAME
    if not report_path.is_file():
        hint = (f" The last run there failed (see {ERROR_NAME})." if (directory / ERROR_NAME).is_file()
                else " Run `memberseg run ... --out DIR` first.")
        raise PushError(f"{directory} holds no finished run: {REPORT_NAME} is missing.{hint}")
    report_bytes = report_path.read_bytes()
    report = _read_json(report_path)
    definitions = _read_json(directory / PROPERTIES_NAME)
    names = report.get("hubspot", {}).get("files") if isinstance(report, dict) else None
    if not names or not isinstance(definitions, dict):
        raise PushError(f"{report_path} lists no HubSpot files; run `memberseg run` again with this version.")
    if report.get("hubspot", {}).get("rows") == 0:
        raise PushError(f"The run in {directory} has no contact with a valid email, so there is nothing to import "
                        "(see the Needs Attention sheet for why customers were left out).")
    requests = {entry["files"][0]["fileName"]: entry for entry in definitions.get("import_requests", [])}
    missing = [name for name in names if not (directory / name).is_file() or name not in requests]
    if missing:
        raise PushError(f"{directory} lacks the HubSpot file(s) {', '.join(missing)} that {REPORT_NAME} lists, "
                        f"or their import requests in {PROPERTIES_NAME}.")
    return RunOutputs(directory=directory, run_id=hashlib.sha256(report_bytes).hexdigest()[:12],
                      as_of=str(report.get("as_of", "")), group=definitions["group"],
                      properties=definitions["inputs"], import_requests=requests,
                      files=[directory / name for name in names],
                      since=Path(report[SINCE_FOLDER_KEY]) if report.get(SINCE_FOLDER_KEY) else None,
                      clear_gone=report["hubspot"].get(GONE_CUSTOMERS_KEY) == "clear")


def _option_values(prop: dict) -> list[str]:
    return [str(option.get("value")) for option in prop.get("options") or []]


def plan_properties(wanted: list[dict], existing: dict[str, dict]) -> PropertyPlan:
    """Compare memberseg's definitions with the portal's: create, add options, leave, or refuse."""
    plan = PropertyPlan()
    for prop in wanted:
        current = existing.get(prop["name"])
        if current is None:
            plan.create.append(prop)
            continue
        if (current.get("type"), current.get("fieldType")) != (prop["type"], prop["fieldType"]):
            plan.conflicts.append(
                f"{prop['name']} exists in HubSpot as type {current.get('type')}/{current.get('fieldType')}, "
                f"but memberseg writes {prop['type']}/{prop['fieldType']}")
            continue
        have = set(_option_values(current))
        missing = [option for option in prop.get("options") or [] if option["value"] not in have]
        if prop["type"] == "enumeration" and missing:
            # Send the whole list: the existing options first, so nothing a user added is dropped.
            start = len(current.get("options") or [])
            added = [{**option, "displayOrder": start + index} for index, option in enumerate(missing)]
            plan.patch[prop["name"]] = list(current.get("options") or []) + added
            plan.added_options[prop["name"]] = [option["value"] for option in missing]
        else:
            plan.unchanged.append(prop["name"])
    return plan


def import_name(outputs: RunOutputs, file_name: str, token: str) -> str:
    """Run-specific and push-specific, so a lookup after an unclear POST finds only this push's import."""
    return f"memberseg {outputs.as_of} run {outputs.run_id} {file_name} push {token}"


def new_push_token() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def read_previous(outputs: RunOutputs) -> dict | None:
    path = outputs.directory / HUBSPOT_IMPORT_NAME
    if not path.is_file():
        return None
    previous = _read_json(path)
    if not isinstance(previous, dict) or previous.get("run_id") != outputs.run_id:
        return None     # from another run's outputs: it says nothing about this one
    return previous


def write_result(directory: Path, result: dict) -> None:
    """Atomically: a crash mid-write never leaves a half file that hides an import."""
    path = directory / HUBSPOT_IMPORT_NAME
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


ERRORS_COUNTER = "ERRORS"     # metadata.counters key for row errors (HubSpot's key names are unconfirmed)
ERRORS_ON_STDERR = 5          # row errors named in the stderr line; hubspot_import.json has them all
SHOWN_VALUE_CHARS = 40        # an invalid value is cut to this on stderr only (the file keeps it whole)


def row_error_entry(item: dict, header: list[str] | None = None) -> dict:
    """One PublicImportError as hubspot_import.json keeps it: HubSpot's `errorMessage` and `invalidValue`
    verbatim (None when not sent), its 0-based `knownColumnNumber`, and that column's CSV header."""
    source = item.get("sourceData") or {}
    given = item.get("knownColumnNumber")
    number = given if isinstance(given, int) and not isinstance(given, bool) else None
    column = header[number] if number is not None and header and 0 <= number < len(header) else None
    value = item["invalidValue"] if item.get("invalidValue") is not None else item.get("invalidValueToDisplay")
    return {"line": source.get("lineNumber"), "errorType": str(item.get("errorType") or "UNKNOWN"),
            "errorMessage": item.get("errorMessage"), "invalidValue": value, "column": column,
            "knownColumnNumber": number}


def row_error_text(error: dict) -> str:
    """One row error for a person (the job page): HubSpot's message verbatim, then type, value, column.
    An entry written before errorMessage was kept has a `message` of its own: shown as it is."""
    if "errorMessage" not in error and error.get("message"):
        return str(error["message"])
    details = [str(error.get("errorType") or "UNKNOWN")]
    if error.get("invalidValue") not in (None, ""):
        details.append(f"value {error['invalidValue']!r}")
    if error.get("column"):
        details.append(f"column {error['column']}")
    message = error.get("errorMessage")
    return f"{message} ({', '.join(details)})" if message else ", ".join(details)


def _row_error_brief(error: dict, file: str | None) -> str:
    """`line 4 INVALID_EMAIL 'bad@' in email`, for the stderr line."""
    words = ([file] if file else []) + [f"line {error.get('line') or '?'}", str(error.get("errorType") or "UNKNOWN")]
    value = error.get("invalidValue")
    if value not in (None, ""):
        text = str(value)
        words.append(repr(text if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS] + "…"))
    if error.get("column"):
        words.append(f"in {error['column']}")
    return " ".join(words)


def row_error_count(entry: dict) -> int:
    """The row errors recorded for one import (every page fetched, up to the cap)."""
    return len(entry.get("errors") or [])


def counted_errors(entry: dict) -> int:
    """The most row errors known for one import: HubSpot's counter, or the list when that is longer."""
    counter = (entry.get("counters") or {}).get(ERRORS_COUNTER, 0)
    return max(counter if isinstance(counter, int) else 0, row_error_count(entry))


def rows_with_errors(entry: dict) -> int:
    """CSV rows among the recorded errors: one row may have several (a line without a number counts alone)."""
    lines = [error.get("line") for error in entry.get("errors") or []]
    return len({line for line in lines if line is not None}) + sum(line is None for line in lines)


def errors_incomplete(entry: dict) -> bool:
    """More row errors exist than were recorded: the cap was reached, or HubSpot's counter says more."""
    return bool(entry.get("errors_truncated")) or counted_errors(entry) > row_error_count(entry)


def exit_code_for(imports: list[dict]) -> int:
    """0: all DONE without row errors; 3: all ended, but some rows (or whole imports) did not make it."""
    if all(entry.get("state") == "DONE" and not counted_errors(entry) for entry in imports):
        return 0
    return 3


def _counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def summary_lines(result: dict) -> list[str]:
    lines = [f"hubspot: group {result['group']}; properties created {len(result['properties']['created'])}, "
             f"updated {len(result['properties']['updated'])}, unchanged {len(result['properties']['unchanged'])}"]
    if isinstance(result.get("delta"), dict):
        delta = result["delta"]
        lines.append(f"  only what changed since the push of {delta.get('since')}: "
                     f"{counts_text(delta.get('counts') or {})}")
    for entry in result["imports"]:
        counters = ", ".join(f"{key} {value:,}" for key, value in sorted((entry.get("counters") or {}).items()))
        more = " (more in HubSpot)" if errors_incomplete(entry) else ""
        lines.append(f"  {entry['file']}: import {entry.get('import_id')} {entry.get('state')}"
                     f"{'; ' + counters if counters else ''}; {_counted(row_error_count(entry), 'row error')} "
                     f"in {_counted(rows_with_errors(entry), 'row')}{more}")
    return lines


def row_error_summary(result: dict, directory: Path) -> str:
    """The stderr lines after a push with exit 3: one line with the total of rows HubSpot refused (whole,
    or a value of), over every finished import, naming the first few; then each import that did not end DONE."""
    done = [entry for entry in result["imports"] if entry.get("state") == "DONE"]
    named = len(result["imports"]) > 1    # lines are per file: name the file when there are several
    rows = sum(rows_with_errors(entry) for entry in done)
    listed = sum(row_error_count(entry) for entry in done)
    counted = sum(counted_errors(entry) for entry in done)
    where = directory / HUBSPOT_IMPORT_NAME
    lines = []
    if counted:
        if not any(errors_incomplete(entry) for entry in done):
            total, errors = _counted(rows, "row"), _counted(listed, "row error")
        else:   # a row error HubSpot has but did not list may sit in a row not yet counted
            total = "at least " + _counted(max(rows, 1), "row")
            errors = (f"{listed:,} of at least {_counted(counted, 'row error')} listed" if counted > listed
                      else f"{_counted(listed, 'row error')} listed; HubSpot has more")
        first = [_row_error_brief(error, entry["file"] if named else None)
                 for entry in done for error in entry.get("errors") or []][:ERRORS_ON_STDERR]
        named_errors = (": " + "; ".join(first) + ("; …" if listed > len(first) else "")) if first else ""
        lines.append(f"memberseg push: {total} not fully imported ({errors}){named_errors}; see {where}")
    for entry in result["imports"]:
        if entry.get("state") != "DONE":
            lines.append(f"memberseg push: {entry['file']}: import {entry.get('import_id')} ended "
                         f"{entry.get('state')}; see HubSpot's import page and {where}")
    return "\n".join(lines)


class Pusher:
    """One push of one run's outputs. `progress` gets a line per step (the CLI shows it on a terminal)."""

    def __init__(self, outputs: RunOutputs, client: HubSpotClient, *, settings: PushSettings | None = None,
                 progress: MessageCallback | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.outputs = outputs
        self.client = client
        self.settings = settings or PushSettings()
        self.progress = progress or (lambda message: None)
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + self.settings.deadline_seconds
        self.token = self.settings.push_token or new_push_token()
        self.result: dict = {}

    # -- steps 1-3: group and properties ---------------------------------------------------------

    def group_exists(self) -> bool:
        name = self.outputs.group["name"]
        self.progress(f"checking the property group {name}")
        response = self.client.get(f"{GROUPS_PATH}/{name}", accept=(404,))
        return response.status != 404

    def create_group(self) -> str:
        self.progress(f"creating the property group {self.outputs.group['name']}")
        response = self.client.request("POST", GROUPS_PATH, json_body=self.outputs.group, accept=(409,))
        return "exists" if response.status == 409 else "created"

    def existing_properties(self) -> dict[str, dict]:
        self.progress("reading the portal's contact properties")
        payload = self.client.get(PROPERTIES_PATH).json() or {}
        return {prop["name"]: prop for prop in payload.get("results", []) if isinstance(prop, dict)}

    def plan(self) -> tuple[bool, PropertyPlan]:
        group_exists = self.group_exists()
        plan = plan_properties(self.outputs.properties, self.existing_properties())
        if plan.conflicts:
            raise PushError("HubSpot already has properties of another type, so the import would fail: "
                            + "; ".join(plan.conflicts) + ". Rename or delete them in HubSpot "
                            "(Settings > Properties), or use other segment property names in the rules.")
        return group_exists, plan

    def create_properties(self, props: list[dict]) -> list[str]:
        if not props:
            return []
        self.progress(f"creating {len(props)} properties")
        response = self.client.request("POST", f"{PROPERTIES_PATH}/batch/create", json_body={"inputs": props})
        payload = response.json() or {}
        created = [prop["name"] for prop in payload.get("results", []) if isinstance(prop, dict)]
        failed = [prop for prop in props if prop["name"] not in created]
        if failed:   # a 207: some failed; one may exist already (created meanwhile, or archived)
            self._settle_failed_creates(failed, payload.get("errors", []))
        return created

    def _settle_failed_creates(self, failed: list[dict], errors: list) -> None:
        messages = "; ".join(str(error.get("message")) for error in errors if isinstance(error, dict))
        for prop in failed:
            response = self.client.get(f"{PROPERTIES_PATH}/{prop['name']}", accept=(404,))
            plan = plan_properties([prop], {} if response.status == 404 else {prop["name"]: response.json()})
            if plan.create or plan.conflicts or plan.patch:
                raise PushError(f"HubSpot did not create the property {prop['name']}: "
                                + (plan.conflicts[0] if plan.conflicts else messages or "no reason given")
                                + ". A deleted property of that name may linger (archived): restore or "
                                "purge it in HubSpot's Settings > Properties.")

    def patch_options(self, patches: dict[str, list[dict]]) -> list[str]:
        for name, options in patches.items():
            self.progress(f"adding dropdown options to {name}")
            self.client.request("PATCH", f"{PROPERTIES_PATH}/{name}", json_body={"options": options})
        return list(patches)

    # -- steps 4-6: imports ----------------------------------------------------------------------

    def _save(self) -> None:
        write_result(self.outputs.directory, self.result)

    def find_import(self, name: str) -> dict | None:
        after: str | None = None
        for _ in range(self.settings.lookup_pages):
            query: dict[str, Any] = {"limit": 100, **({"after": after} if after else {})}
            payload = self.client.get(IMPORTS_PATH, query=query).json() or {}
            for item in payload.get("results", []):
                if isinstance(item, dict) and item.get("importName") == name:
                    return item
            after = (payload.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return None
        return None

    def start_import(self, entry: dict, path: Path) -> dict:
        request = dict(self.outputs.import_requests[path.name])
        request["name"] = entry["name"]
        request.setdefault("marketableContactImport", False)    # billing: never left to HubSpot's default
        body = Multipart({"importRequest": json.dumps(request)}, "files", path, request["files"][0]["fileName"])
        for attempt in range(self.settings.import_post_attempts):
            self.progress(f"starting the import of {path.name} ({path.stat().st_size:,} bytes)")
            try:
                started = self.client.request("POST", IMPORTS_PATH, body=body, repeatable=False).json()
                if not isinstance(started, dict) or not started.get("id"):
                    raise PushError(f"HubSpot accepted the import of {path.name} but named no import id "
                                    f"(answer: {str(started)[:200]}). Check HubSpot's Import page.", exit_code=1)
                return started
            except OutcomeUnknown as exc:
                self.progress(f"{exc}; looking for the import in HubSpot before trying again")
                self.sleep(self.client.retry.backoff(attempt))
                found = self.find_import(entry["name"])
                if found is not None:
                    self.progress(f"HubSpot did create import {found.get('id')}; not sending it again")
                    return found
        raise PushError(f"HubSpot gave no clear answer to the import of {path.name} after "
                        f"{self.settings.import_post_attempts} tries, and lists no import named "
                        f"{entry['name']!r}. Check HubSpot's Import page before pushing again.", exit_code=1)

    def _record(self, entry: dict, payload: dict) -> None:
        entry["import_id"] = str(payload.get("id") or entry.get("import_id"))
        entry["state"] = payload.get("state", entry.get("state"))
        entry["counters"] = (payload.get("metadata") or {}).get("counters") or {}

    def submit(self, entry: dict, path: Path) -> None:
        if entry.get("state") == SUBMITTING:    # an earlier push died between POST and answer
            found = self.find_import(entry["name"])
            if found is not None:
                self._record(entry, found)
                return
        entry.update(name=import_name(self.outputs, path.name, self.token), import_id=None, state=SUBMITTING,
                     counters={}, errors=[])
        self._save()
        self._record(entry, self.start_import(entry, path))
        self._save()

    def poll(self, entries: list[dict]) -> None:
        wait = self.settings.poll_first_seconds
        waiting = [entry for entry in entries if entry["state"] not in TERMINAL_STATES]
        while waiting:
            if self.clock() + wait > self.deadline:
                states = ", ".join(f"{entry['file']} {entry['state']}" for entry in waiting)
                raise PushError(f"the push deadline ({self.settings.deadline_seconds:g} s) passed with imports "
                                f"still running ({states}). Push again to keep waiting: it starts no second "
                                "import.", exit_code=1)
            self.sleep(wait)
            wait = min(self.settings.poll_max_seconds, wait * 1.5)
            for entry in waiting:
                payload = self.client.get(f"{IMPORTS_PATH}{entry['import_id']}").json() or {}
                before = entry["state"]
                self._record(entry, payload)
                self.progress(f"import {entry['import_id']} ({entry['file']}): {entry['state']}")
                if entry["state"] != before:
                    self._save()
            waiting = [entry for entry in waiting if entry["state"] not in TERMINAL_STATES]

    def csv_header(self, file_name: str) -> list[str] | None:
        """The CSV part's column names, to name the column HubSpot's knownColumnNumber points at."""
        paths = {path.name: path for path in self.outputs.files}
        try:
            with paths.get(file_name, self.outputs.directory / file_name).open(encoding="utf-8-sig",
                                                                               newline="") as handle:
                return next(csv.reader(handle), None)
        except (OSError, UnicodeDecodeError, csv.Error):
            return None

    def fetch_errors(self, entry: dict) -> None:
        """Every page of the import's row errors, up to `max_errors_per_import`."""
        header = self.csv_header(entry["file"])
        errors: list[dict] = []
        after: str | None = None
        cap = self.settings.max_errors_per_import
        while len(errors) < cap:
            query: dict[str, Any] = {"limit": self.settings.errors_page_size, "includeErrorMessage": "true",
                                     **({"after": after} if after else {})}
            payload = self.client.get(f"{IMPORTS_PATH}{entry['import_id']}/errors", query=query).json() or {}
            page = [row_error_entry(item, header) for item in payload.get("results", []) if isinstance(item, dict)]
            errors += page
            after = (payload.get("paging") or {}).get("next", {}).get("after")
            if not after or not page:   # an empty page that still names a next one would loop forever
                break
        entry["errors"] = errors[:cap]
        entry["errors_truncated"] = bool(after) or len(errors) > cap
        if errors:
            self.progress(f"{entry['file']}: {len(entry['errors']):,} row errors"
                          f"{' (more in HubSpot)' if entry['errors_truncated'] else ''}")

    # -- the whole push --------------------------------------------------------------------------

    def _entries(self, previous: dict | None, force: bool) -> list[dict]:
        known = {entry["file"]: entry for entry in (previous or {}).get("imports", []) if not force}
        return [known.get(path.name) or {"file": path.name, "name": None, "import_id": None, "state": None,
                                          "counters": {}, "errors": []} for path in self.outputs.files]

    def run(self, previous: dict | None, *, force: bool, delta: dict | None = None) -> PushOutcome:
        group_exists, plan = self.plan()
        group = "exists" if group_exists else self.create_group()
        created = self.create_properties(plan.create)
        updated = self.patch_options(plan.patch)
        entries = self._entries(previous, force)
        self.result = {"run_id": self.outputs.run_id, "api_base": self.client.api_base, "group": group,
                       "properties": {"created": created, "updated": updated,
                                      "unchanged": plan.unchanged + [p["name"] for p in plan.create
                                                                     if p["name"] not in created]},
                       **({"delta": delta} if delta is not None else {}),
                       "imports": entries}
        for entry, path in zip(entries, self.outputs.files, strict=True):
            if entry["state"] == "DONE" or (entry["state"] in ACTIVE_STATES and entry.get("import_id")):
                continue    # imported already, or still running: never a second import
            self.submit(entry, path)
        self._save()
        self.poll(entries)
        for entry in entries:
            if entry["state"] in TERMINAL_STATES and not entry.get("errors_checked"):
                self.fetch_errors(entry)
                entry["errors_checked"] = True
                self._save()
        self.result[ACCEPTED_KEY] = accepted_record(self.outputs.directory, entries, delta=delta is not None,
                                                    errors_incomplete=errors_incomplete)
        self._save()
        return PushOutcome(exit_code_for(entries), self.result, summary_lines(self.result))

    def dry_run(self, previous: dict | None, *, force: bool, sending: str, delta: dict | None = None) -> PushOutcome:
        group_exists, plan = self.plan()
        lines = ["dry run: nothing is changed in HubSpot. The push would:", f"  send {sending}"]
        lines.append(f"  group {self.outputs.group['name']}: " + ("exists" if group_exists else "create it"))
        lines += [f"  create property {prop['name']} ({prop['type']}/{prop['fieldType']})" for prop in plan.create]
        lines += [f"  add options to {name}: " + ", ".join(values) for name, values in plan.added_options.items()]
        lines.append(f"  leave {len(plan.unchanged)} properties as they are")
        for entry, path in zip(self._entries(previous, force), self.outputs.files, strict=True):
            if entry["state"] == "DONE":
                lines.append(f"  skip {path.name}: imported already as {entry['import_id']}")
            elif entry["state"] in ACTIVE_STATES:
                lines.append(f"  wait for import {entry['import_id']} of {path.name} ({entry['state']})")
            else:
                request = self.outputs.import_requests[path.name]
                lines.append(f"  import {path.name} ({path.stat().st_size:,} bytes) as UPSERT by email, "
                             f"marketableContactImport={request.get('marketableContactImport', False)}")
        for name, rows in ((delta or {}).get("rows") or {}).items():
            request = self.outputs.import_requests[name]
            lines.append(f"  import {rows:,} changed rows of {name} as UPSERT by email, "
                         f"marketableContactImport={request.get('marketableContactImport', False)}")
        if delta is not None and not delta.get("files"):
            lines.append("  import nothing: no contact changed")
        return PushOutcome(0, None, lines)


@dataclass
class Choice:
    """What a fresh push sends: `plan` the changed rows only (None: every row), with the counts and why."""

    plan: DeltaPlan | None
    counts: dict[str, int] | None
    why: str
    uncleared: bool = False     # the --since folder was never pushed: who left before it is in neither CSV

    def warnings(self) -> list[str]:
        """What a real push says besides its summary (the dry run shows `sending`)."""
        return [f"hubspot: sent {self.sending()}"] if self.uncleared else []

    def sending(self) -> str:
        what = f"what changed since the push of {self.why}" if self.plan else f"every contact ({self.why})"
        return what + (f": {counts_text(self.counts)}" if self.counts is not None else "")


def choose_delta(outputs: RunOutputs, *, full: bool, count: bool) -> Choice:
    """Only the rows whose values differ from what HubSpot accepted at the push of the run's --since folder;
    every row with --full or nothing to compare with (every contact then counts as added; counted only
    when `count`: the dry run)."""
    since = outputs.since
    everything = plan_delta(outputs.directory, outputs.files, since or outputs.directory,
                            AcceptedState({})) if count else None
    counts = everything.counts if everything is not None else None
    if since is None:
        return Choice(None, counts, "the run was made without --since")
    if since.resolve() == outputs.directory.resolve():
        return Choice(None, counts, "the run's --since folder was its own, so the last push's record is gone")
    accepted = previous_accepted(since)
    if accepted is None:
        # Everyone is sent, but a customer who left the export before this run is in neither CSV: only
        # pushing that folder first clears their flags (its own push compares with the push before it).
        return Choice(None, counts, f"no finished push of {since} to compare with; a customer who left the "
                      f"export before it keeps their segment flags in HubSpot unless you push {since} first, "
                      "then this run", uncleared=True)
    plan = plan_delta(outputs.directory, outputs.files, since, accepted, clear_gone=outputs.clear_gone)
    if plan is None:
        return Choice(None, counts, "this run's HubSpot file and customer state do not line up")
    if full:
        return Choice(None, plan.counts, "--full")
    return Choice(plan, plan.counts, str(since))


def _same_plan(record: dict, chosen: dict) -> bool:
    """The same rows chosen: counts, files and rows alike (`since` names a folder, which may have moved)."""
    return all(record.get(key) == chosen.get(key) for key in ("counts", "files", "rows"))


def resumed_delta(outputs: RunOutputs, previous: dict | None) -> RunOutputs | None:
    """The delta files an earlier, unfinished push of this run chose, when it chose some. When they are gone
    (the S3 flow's retry works in a fresh folder) they are chosen again from the same accepted state, which
    only this push's end replaces, and must come out the same: a resumed import's row errors name lines of
    those files."""
    record = (previous or {}).get("delta")
    if not isinstance(record, dict):
        return None
    paths = [outputs.directory / HUBSPOT_DELTA_FOLDER / name for name in record.get("files", [])]
    if all(path.is_file() for path in paths):
        return replace(outputs, files=paths)
    choice = choose_delta(outputs, full=False, count=False)
    if choice.plan is None or not _same_plan(record, choice.plan.record()):
        raise PushError(f"the interrupted push sent only what changed, and those rows cannot be chosen again "
                        f"({choice.why if choice.plan is None else 'the previous state differs'}); push with "
                        "--full to send every contact.")
    return replace(outputs, files=write_delta(outputs.directory, choice.plan))


def nothing_to_send(outputs: RunOutputs, client: HubSpotClient, plan: DeltaPlan) -> PushOutcome:
    """A delta with no row: no request to HubSpot; the record says this state is the accepted one."""
    result: dict[str, Any] = {"run_id": outputs.run_id, "api_base": client.api_base, "group": "not checked",
              "properties": {"created": [], "updated": [], "unchanged": []}, "delta": plan.record(), "imports": [],
              ACCEPTED_KEY: accepted_record(outputs.directory, [], delta=True, errors_incomplete=errors_incomplete)}
    write_result(outputs.directory, result)
    return PushOutcome(0, result, [f"hubspot: nothing changed since the push of {plan.since} "
                                   f"({counts_text(plan.counts)}); nothing imported"])


def all_done(previous: dict | None, outputs: RunOutputs) -> bool:
    """Every file imported, its row errors read and the accepted state recorded: nothing is left to do (a push
    killed after an import ended goes on to read its errors and record the state, with no import)."""
    if not previous or ACCEPTED_KEY not in previous:
        return False
    entries = {entry.get("file"): entry for entry in previous.get("imports", [])}
    return all((entries.get(path.name) or {}).get("state") == "DONE" and entries[path.name].get("errors_checked")
               for path in outputs.files)


def push(directory: Path, client: HubSpotClient, *, dry_run: bool = False, force: bool = False, full: bool = False,
         settings: PushSettings | None = None, progress: MessageCallback | None = None,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         since: Path | None = None) -> PushOutcome:
    """Push DIR's outputs: only what changed since the push of the run's --since folder (or `since`: a folder
    holding the accepted state and its record, as the S3 flow lays it out), or everything (`full`, or nothing
    to compare with). An interrupted push resumes with the rows it chose first. Raises PushError or
    HubSpotError (each with `exit_code`) when it cannot finish."""
    outputs = load_outputs(directory)
    if since is not None:
        outputs = replace(outputs, since=Path(since))
    previous = read_previous(outputs)
    if full and previous is not None and "delta" in previous:
        force = True        # a push of only the changes was made or begun: --full sends everything again
    resumed = None if force or previous is None else resumed_delta(outputs, previous)
    delta = None
    warnings: list[str] = []
    if resumed is not None and previous is not None:
        outputs, delta, sending = resumed, previous["delta"], "the changes the interrupted push chose"
    elif not force and previous is not None:
        sending = "every contact (resuming the interrupted push)"
    else:
        choice = choose_delta(outputs, full=full, count=dry_run)
        sending, warnings = choice.sending(), choice.warnings()
        if choice.plan is not None:
            delta = choice.plan.record()
            if dry_run:
                outputs = replace(outputs, files=[])
            elif not choice.plan.parts:
                return nothing_to_send(outputs, client, choice.plan)
            else:
                outputs = replace(outputs, files=write_delta(outputs.directory, choice.plan))
    if not force and previous is not None and all_done(previous, outputs):
        return PushOutcome(exit_code_for(previous["imports"]), previous,
                           [f"hubspot: every file of this run was imported already ({HUBSPOT_IMPORT_NAME}); "
                            "--force imports it again"] + summary_lines(previous)[1:])
    pusher = Pusher(outputs, client, settings=settings, progress=progress, clock=clock, sleep=sleep)
    if dry_run:
        return pusher.dry_run(previous, force=force, sending=sending, delta=delta if resumed is None else None)
    outcome = pusher.run(previous, force=force, delta=delta)
    return replace(outcome, messages=outcome.messages + warnings)

