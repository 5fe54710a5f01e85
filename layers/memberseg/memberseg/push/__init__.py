"""`memberseg push`: send a finished run's HubSpot files to a HubSpot portal (docs/hubspot-push.md).

- `client`: a small HubSpot HTTP client on the standard library (timeouts, retries, typed errors);
- `steps`: the push itself (`Pusher`, `plan_properties`, hubspot_import.json, exit codes);
- `command`: `memberseg push` on the command line (environment, token, messages). Not imported
  here: the CLI imports it only when a push is asked for.

Importing this package costs the standard library only (never pandas).
"""

from .client import HubSpotClient, HubSpotConfigError, HubSpotError, HubSpotUnavailable
from .delta import portable_accepted, write_delta
from .steps import (
    MessageCallback,
    PushError,
    PushOutcome,
    PushSettings,
    choose_delta,
    counted_errors,
    import_name,
    load_outputs,
    plan_properties,
    push,
    row_error_count,
    row_error_text,
    write_result,
)

__all__ = ["HubSpotClient", "HubSpotConfigError", "HubSpotError", "HubSpotUnavailable", "MessageCallback",
           "PushError", "PushOutcome", "PushSettings", "choose_delta", "counted_errors", "import_name",
           "load_outputs", "plan_properties", "portable_accepted", "push", "row_error_count", "row_error_text",
           "write_delta", "write_result"]
