"""Lambda handler of the sweeper (EventBridge schedule, every 5 minutes): see sweep.py.

Emits StuckJobs (jobs it had to mark FAILED), alarmed in template.yaml.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

import jobs
import storage
import sweep
from process_env import JobEnv

logger = Logger(service="memberseg-sweeper")
tracer = Tracer()
metrics = Metrics()
ENV = JobEnv.load()


def reload_env() -> None:
    global ENV
    ENV = JobEnv.load()
    dependencies.cache_clear()
    dead_letters.cache_clear()


@lru_cache(maxsize=1)
def dependencies() -> jobs.Deps:
    return jobs.Deps(objects=storage.S3ObjectStore(), jobs=storage.DynamoJobStore(ENV.job_table),
                     events=storage.EventBridgePublisher(ENV.event_bus_name), logger=logger)


@lru_cache(maxsize=1)
def dead_letters() -> storage.SqsDeadLetters | None:
    return storage.SqsDeadLetters(ENV.failure_queue) if ENV.failure_queue else None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict, context: LambdaContext) -> dict:
    report = sweep.sweep(dependencies(), ENV.settings(), dead_letters=dead_letters())
    metrics.add_metric(name="StuckJobs", unit=MetricUnit.Count, value=report.stuck)
    metrics.add_metric(name="EventsRepublished", unit=MetricUnit.Count, value=len(report.published))
    logger.info("sweep done", extra={"failed": report.failed, "published": report.published,
                                     "waiting_for_retry": report.waiting})
    return {"failed": report.failed, "published": report.published, "waiting_for_retry": report.waiting,
            "dead_events": report.dead_events}
