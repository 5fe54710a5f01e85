"""The command-line side of `memberseg push`: the environment, the exit codes and what is printed."""

from __future__ import annotations

import os
import sys
import urllib.parse
from pathlib import Path

from ..job_protocol import HUBSPOT_IMPORT_NAME
from .client import DEFAULT_API_BASE, HubSpotClient, HubSpotError
from .steps import MessageCallback, PushError, PushSettings, push, row_error_summary

TOKEN_VARIABLE = "HUBSPOT_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a secret
BASE_VARIABLE = "HUBSPOT_API_BASE"
SCOPES = ("crm.import", "crm.schemas.contacts.read", "crm.schemas.contacts.write")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def client_from_environment(environ: dict[str, str], progress: MessageCallback) -> HubSpotClient:
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise PushError(f"{TOKEN_VARIABLE} is not set. Create a private app in HubSpot (Settings > Integrations > "
                        f"Private Apps) with the scopes {', '.join(SCOPES)}, and export its access token.")
    base = environ.get(BASE_VARIABLE, "").strip() or DEFAULT_API_BASE
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PushError(f"{BASE_VARIABLE}={base!r} is not an http(s) URL.")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise PushError(f"{BASE_VARIABLE}={base!r} would send the access token unencrypted; use https.")
    return HubSpotClient(token, base, on_wait=progress)


def push_configuration_problem(environ: dict[str, str] | None = None) -> str | None:
    try:
        client_from_environment(dict(os.environ if environ is None else environ), lambda message: None)
    except PushError as exc:
        return exc.message
    return None


def run_push(directory: Path, *, dry_run: bool, force: bool, deadline_seconds: float,
             progress: MessageCallback, environ: dict[str, str] | None = None, full: bool = False) -> int:
    """Exit 0 all imported; 3 some rows failed; 2 bad input or configuration; 1 internal or timed out."""
    try:
        client = client_from_environment(dict(os.environ if environ is None else environ), progress)
        outcome = push(directory, client, dry_run=dry_run, force=force, full=full,
                       settings=PushSettings(deadline_seconds=deadline_seconds), progress=progress)
    except (PushError, HubSpotError) as exc:
        saved = " The state so far is in " + str(Path(directory) / HUBSPOT_IMPORT_NAME) + "." \
            if (Path(directory) / HUBSPOT_IMPORT_NAME).is_file() and exc.exit_code == 1 else ""
        print(f"memberseg push: {exc}{saved}", file=sys.stderr)
        return exc.exit_code
    print("\n".join(outcome.messages))
    if outcome.exit_code == 3 and outcome.result is not None:
        print(row_error_summary(outcome.result, Path(directory)), file=sys.stderr)
    return outcome.exit_code
