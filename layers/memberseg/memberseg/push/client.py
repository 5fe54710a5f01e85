"""A small HubSpot API client on the standard library: timeouts, rate-limit retries, typed errors.

Plain HTTP rather than hubspot-api-client: memberseg calls seven endpoints, and the client's
models reject error types newer than themselves, lack request fields we send, never retry a
POST and have no default timeout (see docs/hubspot-push.md). `Transport` is the seam tests
replace; `HttpTransport` is the real one (urllib.request, streaming uploads).
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..timing import MessageCallback

DEFAULT_API_BASE = "https://api.hubapi.com"
USER_AGENT = "memberseg-push"
CHUNK_BYTES = 1 << 20


class HubSpotError(Exception):
    """A HubSpot answer that is not a success. `exit_code` follows `memberseg push`'s table."""

    exit_code = 1

    def __init__(self, message: str, *, status: int | None = None, category: str | None = None,
                 body: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.category = category
        self.body = body


class HubSpotConfigError(HubSpotError):
    """Bad token, missing scope, a request HubSpot refuses as invalid: the user must act (exit 2)."""

    exit_code = 2


class HubSpotUnavailable(HubSpotError):
    """5xx or network failures that persisted after retries (exit 1)."""


class OutcomeUnknown(HubSpotError):
    """A non-repeatable request (the import POST) got no clear answer: it may or may not have happened."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]     # lower-case names
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Multipart:
    """A multipart/form-data body: text fields, then one file part streamed from disk."""

    fields: dict[str, str]
    file_field: str
    file_path: Path
    file_name: str
    file_type: str = "text/csv"
    boundary: str = field(default_factory=lambda: f"memberseg-{random.getrandbits(64):016x}")  # noqa: S311 - not a secret

    def _head(self) -> bytes:
        parts = []
        for name, value in self.fields.items():
            # A bare form field, as HubSpot's own client (urllib3) sends importRequest.
            parts.append(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n')
        parts.append(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{self.file_field}"; '
                     f'filename="{self.file_name}"\r\nContent-Type: {self.file_type}\r\n\r\n')
        return "".join(parts).encode("utf-8")

    def _tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode("ascii")

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head()) + self.file_path.stat().st_size + len(self._tail())

    def chunks(self) -> Iterator[bytes]:
        """The body, read from disk in 1 MB chunks: a 512 MB part never sits in memory."""
        yield self._head()
        with self.file_path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk
        yield self._tail()


Body = bytes | Multipart | None


class Transport(Protocol):
    def send(self, method: str, url: str, headers: dict[str, str], body: Body, timeout: float) -> Response:
        """Send one request; raise OSError (including TimeoutError) when no response arrives."""
        ...


class HttpTransport:
    """urllib.request: TLS with certificate checks, HTTPS_PROXY / NO_PROXY honoured (never for loopback),
    a timeout on connect and on every read, the multipart body streamed with its declared length."""

    LOOPBACK = ("127.0.0.1", "localhost", "::1")

    def send(self, method: str, url: str, headers: dict[str, str], body: Body, timeout: float) -> Response:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("https", "http"):
            raise ValueError(f"not an http(s) URL: {url}")
        payload: bytes | Iterable[bytes] | None = body.chunks() if isinstance(body, Multipart) else body
        if isinstance(body, Multipart):
            headers = {**headers, "Content-Length": str(len(body))}
        request = urllib.request.Request(url, data=payload, headers=headers, method=method)  # noqa: S310 - checked above
        handlers = [urllib.request.ProxyHandler({})] if parts.hostname in self.LOOPBACK else []
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=timeout) as answer:
                return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        except urllib.error.HTTPError as refused:
            with refused:
                return Response(refused.code, {k.lower(): v for k, v in refused.headers.items()}, refused.read())
        except urllib.error.URLError as exc:
            reason = exc.reason
            raise reason if isinstance(reason, OSError) else ConnectionError(str(reason)) from exc
        except http.client.HTTPException as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc


@dataclass
class RetryPolicy:
    attempts: int = 5                 # tries per request, the first included
    backoff_seconds: float = 1.0      # doubled per retry, with jitter
    max_backoff_seconds: float = 30.0
    rate_limit_wait_seconds: float = 10.0   # HubSpot's window is 10 s; used when Retry-After is absent
    max_retry_after_seconds: float = 120.0

    def backoff(self, retry: int) -> float:
        base = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** retry)
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


def error_message(payload: Any) -> str:
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])
    return "no message"


def missing_scopes(payload: Any) -> list[str]:
    """The scopes a 403 MISSING_SCOPES body names (errors[].context.requiredGranularScopes / requiredScopes)."""
    scopes: list[str] = []
    errors = payload.get("errors") if isinstance(payload, dict) else None
    for error in errors if isinstance(errors, list) else []:
        context = error.get("context") if isinstance(error, dict) else None
        if not isinstance(context, dict):
            continue
        for key in ("requiredGranularScopes", "requiredScopes"):
            values = context.get(key)
            if isinstance(values, list):
                scopes += [str(value) for value in values if str(value) not in scopes]
    return scopes


def retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare; fall back to the window length


def _daily_limit(response: Response) -> bool:
    """The daily limit resets at midnight: waiting seconds will not help."""
    payload = response.json()
    return isinstance(payload, dict) and str(payload.get("policyName", "")).upper() == "DAILY"


def _refusal(method: str, path: str, response: Response) -> HubSpotError:
    payload = response.json()
    message = error_message(payload)
    category = payload.get("category") if isinstance(payload, dict) else None
    where = f"{method} {path}"
    if response.status == 401:
        return HubSpotConfigError(
            f"HubSpot refused the access token (401 on {where}): {message} Check HUBSPOT_ACCESS_TOKEN: "
            "it must be a private app's access token.", status=401, category=category, body=payload)
    if response.status == 403:
        scopes = missing_scopes(payload)
        needed = (f"the private app lacks the scope {', '.join(scopes)}" if scopes
                  else "the private app lacks a scope this call needs")
        return HubSpotConfigError(
            f"HubSpot refused {where} (403): {needed}. Grant crm.import, crm.schemas.contacts.read and "
            f"crm.schemas.contacts.write to the private app. HubSpot said: {message}",
            status=403, category=category, body=payload)
    if response.status == 429:
        policy = payload.get("policyName") if isinstance(payload, dict) else None
        return HubSpotUnavailable(f"HubSpot's rate limit ({policy or 'unnamed policy'}) persisted on {where}: "
                                  f"{message}", status=429, category=category, body=payload)
    if response.status >= 500:
        return HubSpotUnavailable(f"HubSpot answered {response.status} on {where}: {message}",
                                  status=response.status, category=category, body=payload)
    return HubSpotConfigError(f"HubSpot answered {response.status} on {where}: {message}",
                              status=response.status, category=category, body=payload)


class HubSpotClient:
    """JSON requests to HubSpot with the token, a timeout on each, and retries where they are safe.

    A 429 is always retried (HubSpot refused the request, so nothing happened), after Retry-After
    when given. 5xx and network failures are retried only for `repeatable` requests; for the rest
    they raise OutcomeUnknown so the caller can look before it tries again.
    """

    def __init__(self, token: str, api_base: str = DEFAULT_API_BASE, *, transport: Transport | None = None,
                 timeout_seconds: float = 30.0, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, on_wait: MessageCallback | None = None):
        self._token = token
        self.api_base = api_base.rstrip("/")
        self.transport = transport or HttpTransport()
        self.timeout_seconds = timeout_seconds
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.on_wait = on_wait or (lambda message: None)

    def __repr__(self) -> str:  # never show the token
        return f"HubSpotClient({self.api_base!r})"

    def _headers(self, body: Body) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json", "User-Agent": USER_AGENT}
        if isinstance(body, Multipart):
            headers["Content-Type"] = body.content_type
        elif body is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _send_once(self, method: str, path: str, query: dict[str, Any] | None, body: Body) -> Response:
        url = self.api_base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        return self.transport.send(method, url, self._headers(body), body, self.timeout_seconds)

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, json_body: Any = None,
                body: Body = None, repeatable: bool = True, accept: tuple[int, ...] = ()) -> Response:
        """The response for a 2xx (or a status in `accept`); raise HubSpotError otherwise."""
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
        where = f"{method} {path}"
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self._send_once(method, path, query, body)
            except OSError as exc:
                if not repeatable:
                    raise OutcomeUnknown(f"no answer from HubSpot to {where}: {exc}") from exc
                if last:
                    raise HubSpotUnavailable(f"no answer from HubSpot to {where} after {attempt + 1} tries: "
                                             f"{exc}") from exc
                self._wait(self.retry.backoff(attempt), f"no answer to {where} ({exc}); retrying")
                continue
            if 200 <= response.status < 300 or response.status in accept:
                return response
            if response.status == 429 and not last and not _daily_limit(response):
                hint = retry_after(response.headers)
                wait = min(hint, self.retry.max_retry_after_seconds) if hint is not None \
                    else self.retry.rate_limit_wait_seconds
                self._wait(wait, f"HubSpot rate limit on {where}; waiting {wait:g} s")
                continue
            if response.status >= 500 and not repeatable:
                raise OutcomeUnknown(f"HubSpot answered {response.status} to {where}: "
                                     f"{error_message(response.json())}", status=response.status)
            if response.status >= 500 and not last:
                self._wait(self.retry.backoff(attempt), f"HubSpot answered {response.status} on {where}; retrying")
                continue
            raise _refusal(method, path, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, seconds: float, message: str) -> None:
        self.on_wait(message)
        self.sleep(seconds)

    def get(self, path: str, *, query: dict[str, Any] | None = None, accept: tuple[int, ...] = ()) -> Response:
        return self.request("GET", path, query=query, accept=accept)
