"""Lambda handler of the upload API (HTTP API, payload 2.0).

Thin by design: Powertools setup and routing; the rules are in api_core.py, the
route logic in api_service.py, AWS access in api_storage.py, the page in api_page.py,
the environment model in api_env.py (validated at cold start).
Routes: GET / (page), GET /static/{name}, POST /jobs, POST /jobs/{job_id}/uploads (newer files into a job),
GET /jobs/{job_id}, POST /jobs/{job_id}/rerun,
PUT /profiles/{name} (the body: a rules file holding profiles.<name>; ?replace=true replaces a saved one),
POST /jobs/{job_id}/answers (a needs_answers job's answers).
Auth is the HTTP API's Lambda authorizer (authorizer.py); this function trusts it.
"""

from __future__ import annotations

import json
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

import api_core
import api_page
import api_service
import api_storage

logger = Logger(service="memberseg-api")
tracer = Tracer()
metrics = Metrics()
resolver = APIGatewayHttpResolver()


@lru_cache(maxsize=1)
def settings() -> api_core.Settings:
    return api_core.Settings.from_env()


settings()      # cold start: a missing or malformed variable (AUTH_ENABLED=flase) stops the function here


def connect_origins() -> tuple[str, ...]:
    """The page may talk to this origin and the two buckets' origins, nothing else (as the current
    clients presign them: no request is made)."""
    objects = dependencies().objects
    return tuple(dict.fromkeys(objects.origin(b) for b in (settings().input_bucket, settings().output_bucket)))


@lru_cache(maxsize=1)
def dependencies() -> api_service.Deps:
    """Clients are created once per execution environment."""
    return api_service.Deps(objects=api_storage.S3Objects(), jobs=api_storage.JobTable(settings().table_name))


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(body, ensure_ascii=False),
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def _json_body() -> object:
    """The request's JSON body; BadRequest (400) when it is not JSON."""
    try:
        return json.loads(resolver.current_event.decoded_body or "{}")
    except (ValueError, TypeError, RecursionError) as exc:      # RecursionError: JSON nested thousands deep
        raise api_core.BadRequest("the request body must be JSON") from exc


@resolver.get("/")
def page() -> Response:
    headers = api_page.security_headers(connect_origins())
    return Response(status_code=200, content_type="text/html; charset=utf-8",
                    body=api_page.index_html(settings()), headers=headers)


@resolver.get("/static/<name>")
def static_asset(name: str) -> Response:
    found = api_page.asset(name)
    if found is None:
        return _json(404, {"message": "not found"})
    body, content_type = found
    return Response(status_code=200, content_type=content_type, body=body,
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@resolver.post("/jobs")
def create_job() -> Response:
    try:
        body = json.loads(resolver.current_event.decoded_body or "{}")
    except (ValueError, TypeError, RecursionError):      # RecursionError: JSON nested thousands deep
        return _json(400, {"message": "the request body must be JSON"})
    created = api_service.create_job(settings(), dependencies(), body)
    logger.append_keys(job_id=created["job_id"])
    extensions = {role: upload["key"].rsplit(".", 1)[-1] for role, upload in created["uploads"].items()}
    logger.info("job created", extra={"extensions": extensions})
    metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
    return _json(201, created)


@resolver.post("/jobs/<job_id>/uploads")
def upload_again(job_id: str) -> Response:
    presigned = api_service.upload_again(settings(), dependencies(), job_id, _json_body())
    logger.append_keys(job_id=presigned["job_id"])
    logger.info("newer files requested", extra={"as_of": presigned["as_of"]})
    return _json(201, presigned)


@resolver.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    view = api_service.describe_job(settings(), dependencies(), job_id)
    logger.append_keys(job_id=view["job_id"])
    return _json(200, view)


@resolver.post("/jobs/<job_id>/answers")
def answer_job(job_id: str) -> Response:
    try:
        body = json.loads(resolver.current_event.decoded_body or "{}")
    except (ValueError, TypeError, RecursionError):
        return _json(400, {"message": "the request body must be JSON"})
    accepted = api_service.answer_job(settings(), dependencies(), job_id, body)
    logger.append_keys(job_id=accepted["job_id"])
    logger.info("answers received", extra={"profile_key": accepted["profile_key"]})
    return _json(202, accepted)


@resolver.post("/jobs/<job_id>/rerun")
def rerun_job(job_id: str) -> Response:
    view = api_service.rerun_job(settings(), dependencies(), job_id)
    logger.append_keys(job_id=view["job_id"])
    logger.info("job re-run requested")
    metrics.add_metric(name="JobsRerun", unit=MetricUnit.Count, value=1)
    return _json(202, view)


@resolver.put("/profiles/<name>")
def save_profile(name: str) -> Response:
    event = resolver.current_event
    replace = api_core.replace_flag(event.query_string_parameters)
    try:
        text = event.decoded_body or ""
    except (UnicodeDecodeError, ValueError):
        return _json(400, {"message": "the body must be a rules file in UTF-8 text"})
    saved = api_service.save_profile(settings(), dependencies(), name, text, replace=replace)
    logger.info("profile saved", extra={"profile": saved["name"], "replaced": saved["replaced"]})
    metrics.add_metric(name="ProfilesSaved", unit=MetricUnit.Count, value=1)
    return _json(200 if saved["replaced"] else 201, saved)


@resolver.exception_handler(api_core.Conflict)
def conflict(exc: api_core.Conflict) -> Response:
    return _json(409, {"message": str(exc)})


@resolver.exception_handler(api_core.BadRequest)
def bad_request(exc: api_core.BadRequest) -> Response:
    return _json(400, {"message": str(exc)})


@resolver.exception_handler(api_service.NotFound)
def not_found(exc: api_service.NotFound) -> Response:
    return _json(404, {"message": "no such job"})


@resolver.not_found
def no_route(exc: Exception) -> Response:
    return _json(404, {"message": "not found"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return resolver.resolve(event, context)
