"""Shared fixtures. Unit tests run with sockets off (pytest-socket) and fake AWS credentials everywhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from memberseg.rules import load_rules

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
