"""A fake HubSpot portal: a real HTTP server on 127.0.0.1 serving the endpoints `memberseg push` uses.

Modelled on HubSpot's documented API; the sources are in /work/shared/reference/hubspot-api.md
(short names SPEC-I/SPEC-P = HubSpot-public-api-spec-collection imports/properties v3, GUIDE-I,
KB-IMPORT) and HubSpot's v3 reference pages:

- auth (B1): `Authorization: Bearer <token>`; a wrong token gets 401 with category
  INVALID_AUTHENTICATION and the header X-HubSpot-Auth-Failure (hubspot-api-python #211/#132/#129).
- scopes (SPEC `security`): reading properties needs crm.schemas.contacts.read (or
  crm.objects.contacts.read), writing them crm.schemas.contacts.write, imports crm.import; a
  missing one gets 403 MISSING_SCOPES naming it in errors[].context.requiredScopes (the body in
  hubspot-api-nodejs #268).
- groups and properties (SPEC-P): GET 200 / 404; POST 201 / 409 OBJECT_ALREADY_EXISTS (legacy
  docs; the v3 409 body is unconfirmed); batch/create 201, or 207 with numErrors and errors[] when
  some names exist (how HubSpot splits a mixed batch is unconfirmed); PATCH 200, where `options`
  replaces the list (unconfirmed, so memberseg always sends the full list); archived names linger
  and refuse creation.
- imports (SPEC-I, GUIDE-I): POST multipart with `importRequest` and `files`, the filename equal to
  files[0].fileName; 200 PublicImportResponse; state STARTED -> PROCESSING -> DONE, one step per
  status GET; GET /crm/v3/imports/ lists imports newest first, paged by `after`; /errors paged by
  `after` with PublicImportError items (sourceData.lineNumber 1-based, the header being line 1;
  errorMessage only with includeErrorMessage=true; invalidValue and invalidValueToDisplay the cell;
  knownColumnNumber the cell's 0-based column).
- row handling (KB-IMPORT): UPSERT by the email column mapped as HUBSPOT_ALTERNATE_ID, no identifier
  = every row a new contact, blank cells never clear a value, dropdown values must match an option's
  label or value (the value is dropped and INVALID_ENUMERATION_OPTION listed), numbers are digits with
  one decimal point, dates follow dateFormat, single checkboxes take true/false/yes/no.
  `metadata.counters` key names are unconfirmed; the fake uses TOTAL_ROWS, CREATED_OBJECTS,
  UPDATED_OBJECTS and ERRORS.
- rate limits (B6): 429 with policyName TEN_SECONDLY_ROLLING, and Retry-After when the test asks.

Faults are injected per request with `fail(...)`, including "apply the request, then answer 503".
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "pat-na1-fake-0000"
ALL_SCOPES = {"crm.import", "crm.schemas.contacts.read", "crm.schemas.contacts.write"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
DATE = {"YEAR_MONTH_DAY": re.compile(r"^\d{4}-\d{2}-\d{2}$")}
BOOL_VALUES = {"true", "false", "yes", "no"}

# A few of the built-in contact properties every portal has.
BUILT_IN = [
    {"name": "email", "label": "Email", "type": "string", "fieldType": "text", "groupName": "contactinformation"},
    {"name": "company", "label": "Company Name", "type": "string", "fieldType": "text",
     "groupName": "contactinformation"},
    {"name": "firstname", "label": "First Name", "type": "string", "fieldType": "text",
     "groupName": "contactinformation"},
]


@dataclass
class Fault:
    method: str
    path: str           # a prefix of the request path
    status: int
    times: int = 1
    apply_first: bool = False   # do the work, then answer with the fault (a lost response)
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeImport:
    id: str
    name: str
    request: dict
    created_at: str
    states: list[str]
    counters: dict[str, int]
    errors: list[dict]
    polls: int = 0

    @property
    def state(self) -> str:
        return self.states[min(self.polls, len(self.states) - 1)]

    def body(self) -> dict:
        return {"id": self.id, "state": self.state, "createdAt": self.created_at, "updatedAt": self.created_at,
                "importName": self.name, "importSource": "API", "optOutImport": False,
                "mappedObjectTypeIds": ["0-1"], "importRequestJson": self.request,
                "metadata": {"counters": dict(self.counters) if self.state == "DONE" else {},
                             "fileIds": [self.id + "0"], "objectLists": []}}


def error_body(status: int, category: str, message: str, **extra: Any) -> dict:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category,
            **extra}


class FakeHubSpot:
    """The portal's state plus the server. Use as a context manager; `url` is the API base."""

    def __init__(self, *, scopes: set[str] | None = None, token: str = TOKEN, import_states: list[str] | None = None):
        self.token = token
        self.scopes = set(ALL_SCOPES if scopes is None else scopes)
        self.groups: dict[str, dict] = {}
        self.properties: dict[str, dict] = {p["name"]: dict(p) for p in BUILT_IN}
        self.archived: set[str] = set()
        self.contacts: dict[str, dict] = {}
        self.anonymous_contacts: list[dict] = []
        self.imports: dict[str, FakeImport] = {}
        self.import_states = import_states or ["STARTED", "PROCESSING", "DONE"]
        self.blocked_emails: set[str] = set()     # GDPR_BLACKLISTED_EMAIL rows
        self.error_messages: dict[str, str] = {}  # errorType -> the errorMessage to send instead of the default
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []    # method, path (no query), status answered
        self.uploads: list[dict] = []                     # what each import POST carried (its CSV as `text`)
        self._ids = itertools.count(81_000_001)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHubSpot:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail(self, method: str, path: str, status: int, **kwargs: Any) -> None:
        self.faults.append(Fault(method, path, status, **kwargs))

    def writes(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] != "GET"]

    def import_posts(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] == "POST" and r[1].rstrip("/") == "/crm/v3/imports"]

    # -- request handling -----------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, dict | None, dict[str, str]]:
        with self._lock:
            if headers.get("authorization") != f"Bearer {self.token}":
                return 401, error_body(401, "INVALID_AUTHENTICATION",
                                       "Authentication credentials not found. This API supports OAuth 2.0 "
                                       "authentication and you can find more details at "
                                       "https://developers.hubspot.com/docs/methods/auth/oauth-overview"), \
                    {"X-HubSpot-Auth-Failure": "401 Unauthorized"}
            needed = _scopes_for(method, path)
            if needed and not needed & self.scopes:
                return 403, error_body(
                    403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call. "
                    "Read more about required scopes here: https://developers.hubspot.com/scopes.",
                    errors=[{"message": "One or more of the following scopes are required.",
                             "context": {"requiredScopes": sorted(needed)}}],
                    links={"scopes": "https://developers.hubspot.com/scopes"}), {}
            fault = self._fault(method, path)
            if fault is not None and not fault.apply_first:
                return self._fault_answer(fault)
            answer = self._route(method, path, query, headers, body)
            if fault is not None:
                return self._fault_answer(fault)
            return answer

    def _fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and path.startswith(fault.path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    @staticmethod
    def _fault_answer(fault: Fault) -> tuple[int, dict | None, dict[str, str]]:
        if fault.body is not None:
            return fault.status, fault.body, fault.headers
        if fault.status == 429:
            return 429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                         "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                         "policyName": "TEN_SECONDLY_ROLLING", "groupName": "api-calls"}, fault.headers
        return fault.status, error_body(fault.status, "INTERNAL_ERROR", "internal error"), fault.headers

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, dict | None, dict[str, str]]:
        parts = [p for p in path.split("/") if p]
        if parts[:5] == ["crm", "v3", "properties", "contacts", "groups"]:
            return self._groups(method, parts[5:], body)
        if parts[:4] == ["crm", "v3", "properties", "contacts"]:
            return self._properties(method, parts[4:], body)
        if parts[:3] == ["crm", "v3", "imports"]:
            return self._imports(method, parts[3:], query, headers, body)
        return 404, error_body(404, "OBJECT_NOT_FOUND", f"no route for {method} {path}"), {}

    def _groups(self, method: str, rest: list[str], body: bytes) -> tuple[int, dict | None, dict[str, str]]:
        if method == "GET" and len(rest) == 1:
            group = self.groups.get(rest[0])
            if group is None:
                return 404, error_body(404, "OBJECT_NOT_FOUND", f"Unable to find property group {rest[0]}"), {}
            return 200, group, {}
        if method == "POST" and not rest:
            data = json.loads(body)
            if data["name"] in self.groups:
                return 409, error_body(409, "OBJECT_ALREADY_EXISTS", f"group {data['name']} already exists"), {}
            self.groups[data["name"]] = {"archived": False, "displayOrder": -1, **data}
            return 201, self.groups[data["name"]], {}
        return 405, error_body(405, "VALIDATION_ERROR", "method not allowed"), {}

    def _property_error(self, prop: dict) -> str | None:
        missing = [key for key in ("name", "label", "type", "fieldType", "groupName") if key not in prop]
        if missing:
            return f"missing required field(s) {missing}"
        if prop["name"] in self.properties or prop["name"] in self.archived:
            return f"A property named '{prop['name']}' already exists."
        if prop["groupName"] not in self.groups and prop["groupName"] != "contactinformation":
            return f"property group {prop['groupName']} does not exist"
        return None

    def _properties(self, method: str, rest: list[str], body: bytes) -> tuple[int, dict | None, dict[str, str]]:
        if method == "GET" and not rest:
            return 200, {"results": list(self.properties.values())}, {}
        if method == "GET" and len(rest) == 1:
            prop = self.properties.get(rest[0])
            if prop is None:
                return 404, error_body(404, "OBJECT_NOT_FOUND", f"Property {rest[0]} does not exist"), {}
            return 200, prop, {}
        if method == "POST" and rest == ["batch", "create"]:
            created, errors = [], []
            for prop in json.loads(body)["inputs"]:
                problem = self._property_error(prop)
                if problem:
                    errors.append({"status": "error", "category": "OBJECT_ALREADY_EXISTS", "message": problem,
                                   "context": {"name": [prop.get("name")]}})
                    continue
                self.properties[prop["name"]] = {**prop, "options": prop.get("options", [])}
                created.append(self.properties[prop["name"]])
            payload: dict[str, Any] = {"status": "COMPLETE", "results": created, "startedAt": "2026-12-01T00:00:00Z",
                                       "completedAt": "2026-12-01T00:00:01Z"}
            if errors:
                return 207, {**payload, "numErrors": len(errors), "errors": errors}, {}
            return 201, payload, {}
        if method == "PATCH" and len(rest) == 1:
            prop = self.properties.get(rest[0])
            if prop is None:
                return 404, error_body(404, "OBJECT_NOT_FOUND", f"Property {rest[0]} does not exist"), {}
            prop.update(json.loads(body))
            return 200, prop, {}
        return 405, error_body(405, "VALIDATION_ERROR", "method not allowed"), {}

    def _imports(self, method: str, rest: list[str], query: dict[str, str], headers: dict[str, str],
                 body: bytes) -> tuple[int, dict | None, dict[str, str]]:
        if method == "POST" and not rest:
            return self._start_import(headers.get("content-type", ""), body)
        if method == "GET" and not rest:
            listed = sorted(self.imports.values(), key=lambda item: int(item.id), reverse=True)
            return 200, _page([item.body() for item in listed], query), {}
        found = self.imports.get(rest[0]) if rest else None
        if found is None:
            return 404, error_body(404, "OBJECT_NOT_FOUND", "import not found"), {}
        if method == "GET" and len(rest) == 1:
            found.polls += 1
            return 200, found.body(), {}
        if method == "GET" and rest[1:] == ["errors"]:
            errors = found.errors if found.state == "DONE" else []
            if query.get("includeErrorMessage", "").lower() != "true":
                errors = [{k: v for k, v in e.items() if k != "errorMessage"} for e in errors]
            return 200, _page(errors, query), {}
        return 405, error_body(405, "VALIDATION_ERROR", "method not allowed"), {}

    def _start_import(self, content_type: str, body: bytes) -> tuple[int, dict | None, dict[str, str]]:
        fields, files = parse_multipart(content_type, body)
        if "importRequest" not in fields or "files" not in files:
            return 400, error_body(400, "VALIDATION_ERROR", "importRequest and files parts are required"), {}
        request = json.loads(fields["importRequest"])
        file_name, content = files["files"]
        spec = request["files"][0]
        if spec.get("fileName") != file_name:
            return 400, error_body(400, "VALIDATION_ERROR",
                                   f"fileName {spec.get('fileName')!r} matches no uploaded file ({file_name!r})"), {}
        if not request.get("name"):
            return 400, error_body(400, "VALIDATION_ERROR", "name is required"), {}
        self.uploads.append({"request": request, "file_name": file_name, "bytes": len(content),
                             "text": content.decode("utf-8")})
        import_id = str(next(self._ids))
        counters, errors = self._apply_rows(request, spec, content.decode("utf-8"), import_id)
        self.imports[import_id] = FakeImport(import_id, request["name"], request, "2026-12-01T00:00:00Z",
                                             list(self.import_states), counters, errors)
        return 200, self.imports[import_id].body(), {}

    def _apply_rows(self, request: dict, spec: dict, text: str, import_id: str) -> tuple[dict, list]:
        rows = list(csv.reader(io.StringIO(text)))
        header, data = rows[0], rows[1:]
        mappings = {m["columnName"]: m for m in spec["fileImportPage"]["columnMappings"]}
        id_column = next((m["columnName"] for m in mappings.values()
                          if m.get("columnType") == "HUBSPOT_ALTERNATE_ID" and m["propertyName"] == "email"), None)
        upsert = request.get("importOperations", {}).get("0-1", "UPSERT") == "UPSERT"
        counters = {"TOTAL_ROWS": len(data), "CREATED_OBJECTS": 0, "UPDATED_OBJECTS": 0, "ERRORS": 0}
        errors: list[dict] = []
        for line, row in enumerate(data, start=2):
            values, row_errors = self._row_values(header, row, mappings, request.get("dateFormat", "MONTH_DAY_YEAR"))
            key = values.get("email", "").lower() if id_column else None
            if "email" in values and (not EMAIL.match(values["email"]) or key in self.blocked_emails):
                kind = "GDPR_BLACKLISTED_EMAIL" if key in self.blocked_emails else "INVALID_EMAIL"
                message = self.error_messages.get(kind, f"Email {values['email']} cannot be imported")
                row_errors = [(kind, values["email"], message, header.index(id_column) if id_column else None)]
                values = {}
            for kind, value, message, column in row_errors:
                error = {"id": f"{import_id}-{len(errors)}", "createdAt": 1764547200000, "errorType": kind,
                         "invalidValue": value, "invalidValueToDisplay": value, "errorMessage": message,
                         "objectType": "CONTACT", "objectTypeId": "0-1",
                         "sourceData": {"rowData": row, "lineNumber": line, "fileId": int(import_id),
                                        "containsEncryptedProperties": False}}
                errors.append(error if column is None else {**error, "knownColumnNumber": column})
            counters["ERRORS"] += len(row_errors)
            if not values:
                continue
            if upsert and key and key in self.contacts:
                self.contacts[key].update(values)
                counters["UPDATED_OBJECTS"] += 1
            elif key:
                self.contacts[key] = values
                counters["CREATED_OBJECTS"] += 1
            else:
                self.anonymous_contacts.append(values)
                counters["CREATED_OBJECTS"] += 1
        return counters, errors

    def _row_values(self, header: list[str], row: list[str], mappings: dict[str, dict],
                    date_format: str) -> tuple[dict, list]:
        values: dict[str, str] = {}
        errors: list[tuple[str, str, str, int | None]] = []     # errorType, invalidValue, errorMessage, column
        for number, (column, cell) in enumerate(zip(header, row, strict=False)):
            mapping = mappings.get(column)
            if mapping is None or cell == "":      # blank cells never clear a value
                continue
            prop = self.properties.get(mapping["propertyName"])
            if prop is None:
                errors.append(("PROPERTY_DEFINITION_NOT_FOUND", cell, f"no property {mapping['propertyName']}", number))
                continue
            problem = _value_problem(prop, cell, date_format)
            if problem:
                errors.append((problem, cell, self.error_messages.get(
                    problem, f"{cell!r} is not a valid value for {prop['name']}"), number))
                continue
            values[prop["name"]] = cell
        return values, errors


def _value_problem(prop: dict, cell: str, date_format: str) -> str | None:
    kind = prop["type"]
    if kind == "enumeration":
        allowed = {o["value"] for o in prop.get("options", [])} | {o["label"] for o in prop.get("options", [])}
        return None if cell in allowed else "INVALID_ENUMERATION_OPTION"
    if kind == "number":
        return None if NUMBER.match(cell) else "COULD_NOT_PARSE_NUMBER"
    if kind == "date":
        pattern = DATE.get(date_format)
        return None if pattern is None or pattern.match(cell) else "COULD_NOT_PARSE_DATE"
    if kind == "bool":
        return None if cell.lower() in BOOL_VALUES else "INVALID_PROPERTY_VALUE_FORMAT"
    return None


def _scopes_for(method: str, path: str) -> set[str]:
    if path.startswith("/crm/v3/imports"):
        return {"crm.import"}
    if path.startswith("/crm/v3/properties"):
        return {"crm.schemas.contacts.read", "crm.objects.contacts.read"} if method == "GET" \
            else {"crm.schemas.contacts.write"}
    return set()


def _page(items: list, query: dict[str, str]) -> dict:
    start = int(query.get("after") or 0)
    limit = int(query.get("limit") or 10)
    page: dict[str, Any] = {"results": items[start:start + limit]}
    if start + limit < len(items):
        page["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
    return page


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    message = email.message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body,
                                       policy=email.policy.HTTP)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[str(name)] = (part.get_filename(), payload)
        else:
            fields[str(name)] = payload.decode("utf-8")
    return fields, files


def _handler(portal: FakeHubSpot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload, extra = portal.handle(self.command, url.path, query, headers, body)
            portal.requests.append((self.command, url.path, status))
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
