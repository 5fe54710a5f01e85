"""Lambda handler: "Segmentation Job Succeeded" (EventBridge) -> push that committed run to HubSpot.

Thin by design: validate the environment at cold start, set up Powertools, call
push_flow.handle_job_succeeded with the AWS adapters from push_storage.py. Deployed only when
the stack's HubSpotPush parameter is "true". The token is read per invocation from Secrets
Manager and never logged (the client's repr hides it).
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

import push_flow
import push_storage
from memberseg.push import HubSpotClient
from memberseg.push.command import BASE_VARIABLE, TOKEN_VARIABLE, client_from_environment
from push_env import PushEnv

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ENV = PushEnv.load()         # cold start: a bad environment fails here, naming the variable


def reload_env() -> None:
    """Tests set the environment after import."""
    global ENV
    ENV = PushEnv.load()
    dependencies.cache_clear()


def make_client(token: str, api_base: str) -> HubSpotClient:
    # the same checks as `memberseg push` (https unless loopback, a token present)
    return client_from_environment({TOKEN_VARIABLE: token, BASE_VARIABLE: api_base}, logger.debug)


@lru_cache(maxsize=1)
def dependencies() -> push_flow.Deps:
    return push_flow.Deps(
        objects=push_storage.S3RunObjects(),
        jobs=push_storage.DynamoPushStore(ENV.job_table),
        events=push_storage.EventBridgePublisher(ENV.event_bus_name),
        token=push_storage.SecretToken(ENV.token_secret_arn),
        client=make_client,
        logger=logger,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict:
    detail = event.detail
    logger.append_keys(job_id=detail.get("job_id"), run_id=detail.get("run_id"))
    tracer.put_annotation("job_id", str(detail.get("job_id")))
    logger.info("job succeeded event")
    outcome = push_flow.handle_job_succeeded(detail, dependencies(), ENV.settings(),
                                             remaining_s=context.get_remaining_time_in_millis() / 1000)
    metrics.add_metric(name="HubSpotPushEvents", unit=MetricUnit.Count, value=1)
    if outcome.action == "pushed":
        metrics.add_metric(name="HubSpotImportsFinished" if outcome.state != "FAILED" else "HubSpotImportsFailed",
                           unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="HubSpotRowErrors", unit=MetricUnit.Count, value=outcome.hubspot.get("errors", 0))
    logger.info("done", extra={"outcome": outcome.as_dict()})
    return outcome.as_dict()
