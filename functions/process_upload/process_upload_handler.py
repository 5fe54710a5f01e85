"""Lambda handler: S3 "Object Created" (via EventBridge) -> segmentation job.

Thin by design: validate the environment at cold start, parse the event, set up
Powertools, call jobs.handle_object_created with the AWS adapters from storage.py.
The protocol is in docs/job-protocol.md.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

import jobs
import storage
from process_env import JobEnv

logger = Logger()            # JSON lines; service/level from POWERTOOLS_* env
tracer = Tracer()
metrics = Metrics()          # EMF; namespace from POWERTOOLS_METRICS_NAMESPACE
ENV = JobEnv.load()          # cold start: a bad environment fails here, with the variable's name


def reload_env() -> None:
    """Tests and the local stack set the environment after import."""
    global ENV
    ENV = JobEnv.load()
    dependencies.cache_clear()


@lru_cache(maxsize=1)
def dependencies() -> jobs.Deps:
    """AWS clients are created once per execution environment (warm invocations reuse them)."""
    return jobs.Deps(
        objects=storage.S3ObjectStore(),
        jobs=storage.DynamoJobStore(ENV.job_table),
        events=storage.EventBridgePublisher(ENV.event_bus_name),
        logger=logger,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=S3EventBridgeNotificationEvent)
def handler(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict:
    bucket = event.detail.bucket.name
    key = event.detail.object.key          # the data class URL-decodes (unquote_plus) the key
    settings = ENV.settings()
    parts = jobs.split_key(key, settings.upload_prefix)
    if parts:
        logger.append_keys(job_id=parts[0])
        tracer.put_annotation("job_id", parts[0])
    logger.append_keys(s3_bucket=bucket, s3_key=key, s3_version_id=event.detail.object.version_id)
    logger.info("object created")

    outcome = jobs.handle_object_created(
        bucket, key, dependencies(), settings,
        request_id=context.aws_request_id,
        remaining_s=context.get_remaining_time_in_millis() / 1000,
        event_id=event.get_id,
    )
    _record_metrics(outcome)
    logger.info("done", extra={"outcome": outcome.action})
    return outcome.as_dict()


def _record_metrics(outcome: jobs.Outcome) -> None:
    metrics.add_metric(name="UploadEvents", unit=MetricUnit.Count, value=1)
    if outcome.action == jobs.Action.SUCCEEDED:
        metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=outcome.counts.get("rows_in", 0))
        metrics.add_metric(name="CustomersOut", unit=MetricUnit.Count, value=outcome.counts.get("customers_out", 0))
    elif outcome.action == jobs.Action.FAILED:
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    elif outcome.action == jobs.Action.DUPLICATE:
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
    elif outcome.action == jobs.Action.REFUSED:
        metrics.add_metric(name="ReplayedUploadsRefused", unit=MetricUnit.Count, value=1)
    if outcome.published is False:
        metrics.add_metric(name="EventsDeferred", unit=MetricUnit.Count, value=1)
    if outcome.duration_ms is not None:
        metrics.add_metric(name="JobDuration", unit=MetricUnit.Milliseconds, value=outcome.duration_ms)
