"""Shared fixtures. Unit tests run with sockets off (pytest-socket) and fake AWS credentials everywhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

# Shared checkers outside test modules: their asserts show the values that differ, like a test's.
pytest.register_assert_rewrite("series_expected")

from memberseg.rules import load_rules  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may ever reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def rules():
    return load_rules()


@pytest.fixture
def as_of() -> dt.date:
    return dt.date(2026, 11, 15)


@pytest.fixture
def deploy_process_function(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """deploy(session) -> (local stack, handler module): the template's resources in the current (mocked)
    AWS, and the processing handler imported with the function's environment, as Lambda would."""
    import local_aws

    imported = []

    def deploy(session):
        local = local_aws.deploy(session)
        for name, value in local.stack.function_environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("JOB_WORK_DIR", str(tmp_path))
        import process_upload_handler as app  # the handler module, as Lambda imports it
        app.reload_env()
        imported.append(app)
        return local, app

    yield deploy
    for app in imported:
        app.dependencies.cache_clear()
