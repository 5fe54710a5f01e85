#!/usr/bin/env python3
"""`make serve`: the whole product on 127.0.0.1, no AWS account, no Docker.

- moto's server is S3 (buckets, CORS, EventBridge notifications as template.yaml
  defines them, via infra/local_aws.py) and the DynamoDB job table;
- a local HTTP server turns each request into the HTTP API (payload 2.0) event API
  Gateway would send, guards the job routes as the template's HTTP API does (when auth is
  on: 401 without an Authorization header, else the Lambda authorizer), and hands the event
  to the same API handler (functions/api/api_handler.py). A connection that sends nothing for
  REQUEST_TIMEOUT_S is closed, and a body above API Gateway's 10 MB is refused;
- the browser uploads straight to the local S3 with the presigned POSTs;
- when an upload lands, the template's EventBridge rule delivers the event to a
  queue that stands in for the Lambda target, and a worker thread runs the
  processing handler (functions/process_upload/process_upload_handler.py) in-process on it.

    python infra/serve_local.py [--port 8000] [--token TOKEN] [--as-of YYYY-MM-DD] [--verbose]

Prints the URL; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PROCESS_DIR = ROOT / "functions" / "process_upload"
API_DIR = ROOT / "functions" / "api"
# Lambda puts a function's own folder on sys.path; locally both folders are (their module names are
# distinct: process_upload_handler, jobs, storage, sweep / api_handler, api_*, authorizer), which pytest
# does through pyproject's `pythonpath` and a script run from the command line does here.
for _extra in (PROCESS_DIR, API_DIR, ROOT / "infra"):
    if str(_extra) not in sys.path:
        sys.path.append(str(_extra))

import local_aws  # noqa: E402

API_FUNCTION = "ApiFunction"
AUTHORIZER_FUNCTION = "ApiAuthorizerFunction"
PUBLIC_ROUTES = (("GET", "/"), ("GET", "/static/"))     # no `security` in the template's OpenAPI body
REQUEST_TIMEOUT_S = 30.0        # a client that opens a connection and goes quiet is dropped after this
MAX_BODY_BYTES = 10 * 1024 * 1024       # API Gateway's payload limit (413 above it)
HEADER_SOURCE = "$request.header."
ACCOUNT = local_aws.ACCOUNT_ID
REGION = local_aws.REGION
log = logging.getLogger("memberseg.serve")


def reset_moto(endpoint: str) -> None:
    """Empty moto's in-process backends (the endpoint is our own loopback server)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


# ------------------------------------------------------------------ handlers and template
def load_api_app() -> ModuleType:
    return importlib.import_module("api_handler")


def load_authorizer() -> ModuleType:
    return importlib.import_module("authorizer")


def load_process_app() -> ModuleType:
    return importlib.import_module("process_upload_handler")


def template_with_api() -> dict:
    template = local_aws.load_template()
    if API_FUNCTION not in template.get("Resources", {}):
        raise RuntimeError(f"template.yaml has no {API_FUNCTION}: the upload API's resources are missing")
    return template


def api_stack(overrides: dict | None = None) -> local_aws.Stack:
    return local_aws.Stack(local_aws.Resolver(template_with_api(), overrides or {}))


def job_route_identity(st: local_aws.Stack) -> tuple[str, ...] | None:
    """How the template's HTTP API guards the job routes: None when they have no authorizer
    (AuthEnabled false), else the request headers its identity source names, lower-cased
    (API Gateway answers 401 itself when one is missing, without invoking the authorizer)."""
    body = st.props("HttpApi")["DefinitionBody"]
    security = body["paths"]["/jobs"]["post"].get("security")
    if not security:
        return None
    (name,) = security[0]
    authorizer = body["components"]["securitySchemes"][name]["x-amazon-apigateway-authorizer"]
    return tuple(source.removeprefix(HEADER_SOURCE).lower() for source in authorizer.get("identitySource", [])
                 if source.startswith(HEADER_SOURCE))


# ------------------------------------------------------------------ HTTP API (payload 2.0) emulation
def http_api_event(method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict:
    """The event API Gateway's HTTP API sends a Lambda proxy integration (payload format 2.0)."""
    parts = urlsplit(target)
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": parts.path or "/", "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "local", "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local", "requestId": uuid.uuid4().hex, "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
            "http": {"method": method, "path": parts.path or "/", "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": lowered.get("user-agent", "")},
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return event


def authorizer_event(event: dict, method: str) -> dict:
    path = event["rawPath"]
    return {
        "version": "2.0", "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/$default/{method}{path}",
        "identitySource": [event["headers"].get("authorization", "")],     # the template's one source
        "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": event["rawQueryString"],
        "headers": event["headers"], "requestContext": event["requestContext"],
    }


def is_public(method: str, path: str) -> bool:
    return any(method == m and (path == p if p == "/" else path.startswith(p)) for m, p in PUBLIC_ROUTES)


@dataclass
class ApiGateway:
    """Routes an HTTP request through the authorizer (if on) and the API handler, as API Gateway would.

    `identity_headers`: the authorizer's identity source (job_route_identity); a request missing one
    gets 401 and never reaches the authorizer."""
    api: ModuleType
    authorizer: ModuleType | None
    identity_headers: tuple[str, ...] = ()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes,
               source_ip: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
        event = http_api_event(method, target, headers, body, source_ip)
        if self.authorizer is not None and not is_public(method, event["rawPath"]):
            if not all(event["headers"].get(name, "").strip() for name in self.identity_headers):
                return 401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
            # the deployed API caches this decision per token for 300 s; locally every request asks
            context = local_aws.LambdaContext("memberseg-api-authorizer", 512)
            decision = self.authorizer.handler(authorizer_event(event, method), context)
            if not decision.get("isAuthorized"):
                return 403, {"content-type": "application/json"}, b'{"message":"Forbidden"}'
        result = self.api.handler(event, local_aws.LambdaContext("memberseg-api", 512))
        out_headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            out_headers[name.lower()] = ", ".join(map(str, values))
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
        return int(result.get("statusCode", 200)), out_headers, data


class _Handler(BaseHTTPRequestHandler):
    """One connection of the local HTTP API; `_request_handler` binds the gateway and the timeout."""
    protocol_version = "HTTP/1.1"
    server_version = "memberseg-local-api"
    gateway: ApiGateway
    verbose = False
    # the socket's timeout for every read: a silent or trickling client is dropped, not waited on
    timeout = REQUEST_TIMEOUT_S

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self) -> bytes | None:
        """The request body, or None after refusing a malformed or oversized Content-Length."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= MAX_BODY_BYTES:
            return self.rfile.read(length) if length else b""
        self.close_connection = True            # the unread body must not be taken for the next request
        status, message = (413, "Request Entity Too Large") if length > 0 else (400, "Bad Request")
        self._send(status, {"content-type": "application/json"}, json.dumps({"message": message}).encode())
        return None

    def _serve(self) -> None:
        body = self._body()
        if body is None:
            return
        try:
            status, headers, data = self.gateway.handle(self.command, self.path, dict(self.headers.items()), body,
                                                        self.client_address[0])
        except Exception:  # noqa: BLE001 - API Gateway's answer to a crashed function is a 500
            traceback.print_exc()
            headers = {"content-type": "application/json"}
            status, data = 500, b'{"message":"Internal Server Error"}'
        self._send(status, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.verbose:
            sys.stderr.write("api: " + (fmt % args) + "\n")


def _request_handler(gateway: ApiGateway, verbose: bool,
                     timeout_s: float = REQUEST_TIMEOUT_S) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"gateway": gateway, "verbose": verbose, "timeout": timeout_s})


# ------------------------------------------------------------------ the local stack
@dataclass
class LocalServe:
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None                # auth on (with this token) when given
    as_of: str | None = None
    verbose: bool = False
    request_timeout_s: float = REQUEST_TIMEOUT_S
    url: str = ""
    endpoint: str = ""
    session: Any = None
    local: Any = None
    processed: list = field(default_factory=list)   # (job key, outcome action) per handled event
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list = field(default_factory=list)
    _saved_env: dict = field(default_factory=dict)
    _saved_levels: list = field(default_factory=list)
    _moto: Any = None
    _http: Any = None
    _work_dir: Any = None

    def _setenv(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def start(self) -> LocalServe:
        from moto.server import ThreadedMotoServer

        if not self.verbose:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto's backends live in this process: start from empty even if another server or mock ran before
        reset_moto(self.endpoint)
        self._work_dir = tempfile.TemporaryDirectory(prefix="memberseg-serve-")
        self._setenv({
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint, "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_PROFILE": None, "AWS_SESSION_TOKEN": None,
            "AWS_SECURITY_TOKEN": None, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
        })
        try:
            # the page's origin must be known before the bucket's CORS rule is created
            self._http = ThreadingHTTPServer((self.host, self.port), BaseHTTPRequestHandler)
            self._http.daemon_threads = True
            self.url = f"http://{self.host}:{self._http.server_address[1]}/"
            overrides = {"UploadCorsOrigins": self.url.rstrip("/"), "AuthEnabled": "true" if self.token else "false"}
            self._deploy(overrides)
            api, authorizer, process = load_api_app(), load_authorizer(), load_process_app()
            api.settings.cache_clear()
            api.dependencies.cache_clear()
            process.reload_env()
            for module in (api, authorizer, process):    # quiet unless --verbose; restored by stop()
                self._saved_levels.append((module.logger, module.logger.log_level))
                if not self.verbose:
                    module.logger.setLevel("WARNING")
            identity = job_route_identity(api_stack(overrides))
            gateway = ApiGateway(api, authorizer if identity is not None else None, identity or ())
            self._http.RequestHandlerClass = _request_handler(gateway, self.verbose, self.request_timeout_s)
            for target in (self._http.serve_forever, self._process_uploads):
                thread = threading.Thread(target=target, daemon=True, name=f"serve-{target.__name__}")
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise
        return self

    def _deploy(self, overrides: dict) -> None:
        import boto3

        self.session = boto3.Session(region_name=REGION)
        st = api_stack(overrides)
        self.local = local_aws.deploy(self.session, template=st)  # the template *with* the API fragment
        env = st.function_environment()                  # the processing function
        env.update(st.function_environment(API_FUNCTION))
        env["JOB_WORK_DIR"] = self._work_dir.name
        if self.as_of:        # the processing function's default, and the date the page's picker starts at
            env["JOB_AS_OF"] = env["PAGE_AS_OF"] = self.as_of
        env.update(st.function_environment(AUTHORIZER_FUNCTION))     # AUTH_ENABLED from the AuthEnabled parameter
        if self.token:      # the secret CloudFormation would generate, holding the chosen token
            secret = self.session.client("secretsmanager").create_secret(
                Name=st.resolver.resolve(st.template["Resources"]["ApiTokenSecret"]["Properties"]["Name"]),
                SecretString=self.token)
            env["TOKEN_SECRET_ARN"] = secret["ARN"]
        self._setenv(env)

    def _process_uploads(self) -> None:
        """The Lambda service's part: run the processing handler on each event the rule delivered."""
        process = load_process_app()
        sqs = self.session.client("sqs")
        while not self._stop.is_set():
            try:
                events = local_aws.drain(sqs, self.local.trigger_queue_url, wait_s=1)
            except Exception:  # noqa: BLE001 - moto is shutting down or busy: poll again
                if self._stop.is_set():
                    return
                time.sleep(0.2)
                continue
            for event in events:
                key = event.get("detail", {}).get("object", {}).get("key")
                try:
                    outcome = process.handler(local_aws.as_delivered_by_aws(event), local_aws.LambdaContext())
                    action = outcome.get("action")
                except Exception as exc:  # noqa: BLE001 - AWS would retry; here we report and go on
                    action = f"error: {exc}"
                    traceback.print_exc()
                self.processed.append((key, action))
                routine = ("waiting", "succeeded", "failed", "duplicate", "superseded", "ignored", "committed_earlier")
                if self.verbose or action not in routine:
                    print(f"  processing function: {key} -> {action}", flush=True)

    def local_status(self, job_id: str) -> dict | None:
        """The job's status item, as the processing function wrote it."""
        return load_process_app().dependencies().jobs.get_status(job_id)

    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.shutdown() if self._threads else None
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._moto is not None:
            self._reset_moto()
            self._moto.stop()
        self._restore_process_state()
        if self._work_dir is not None:
            self._work_dir.cleanup()

    def _reset_moto(self) -> None:
        try:        # leave moto's in-process backends empty for whoever runs next in this process
            reset_moto(self.endpoint)
        except OSError:
            pass

    def _restore_process_state(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        for logger, level in self._saved_levels:
            logger.setLevel(level)
        self._saved_levels.clear()
        for name in ("api_handler", "process_upload_handler"):   # no cached clients pointing at a stopped server
            module = sys.modules.get(name)
            for cached in ("settings", "dependencies"):
                if module is not None and hasattr(getattr(module, cached, None), "cache_clear"):
                    getattr(module, cached).cache_clear()

    def __enter__(self) -> LocalServe:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                        help="port of the page and API on 127.0.0.1 (0 = any free port; default 8000)")
    parser.add_argument("--token", default=os.environ.get("MEMBERSEG_TOKEN") or None,
                        help="turn auth on with this bearer token (at least 16 characters)")
    parser.add_argument("--as-of", help="YYYY-MM-DD the page's as-of picker starts at (and the default of a job "
                        "without one); default today")
    parser.add_argument("--verbose", action="store_true", help="request log and the handlers' JSON logs")
    args = parser.parse_args(argv)
    if args.token and len(args.token) < 16:
        parser.error("--token must be at least 16 characters")
    serve = LocalServe(port=args.port, token=args.token, as_of=args.as_of, verbose=args.verbose)
    serve.start()
    print(f"memberseg is running at {serve.url}", flush=True)
    print(f"  local S3 + DynamoDB (moto) at {serve.endpoint}; auth {'on' if args.token else 'off'}", flush=True)
    print("  press Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        serve.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
