"""Integration fixtures: moto's in-process `mock_aws`, resources created from template.yaml,
the real handler (functions/process_upload/app.py) invoked in-process.

Fake credentials come from the root conftest's autouse fixture; this one adds the
function's environment exactly as the template defines it.
"""

from __future__ import annotations

import threading

import boto3
import pytest
from moto import mock_aws

import serve_local
from api_support import api_app
from s3_world import World, local_aws


@pytest.fixture(autouse=True)
def lambda_runtime_env(monkeypatch: pytest.MonkeyPatch, fake_aws_credentials) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def world(deploy_process_function):
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        local, app = deploy_process_function(session)
        yield World(session, local, app, session.client("s3"), session.client("sqs"))


@pytest.fixture
def api(world, monkeypatch):
    """The API handler with the template's environment for ApiFunction (on the same moto backend)."""
    for name, value in serve_local.api_stack().function_environment(serve_local.API_FUNCTION).items():
        monkeypatch.setenv(name, value)
    module = api_app()
    module.settings.cache_clear()
    module.dependencies.cache_clear()
    yield module
    module.settings.cache_clear()
    module.dependencies.cache_clear()


@pytest.fixture
def dynamodb_atomic(monkeypatch: pytest.MonkeyPatch):
    """DynamoDB evaluates a condition and applies the write atomically; moto's in-process
    backend does not lock, so threads could interleave check and write. Restore the
    service's guarantee (one lock around each item write) so concurrency tests test our
    code, not moto's thread safety."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, __original=original, **kwargs):
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)
    return lock
