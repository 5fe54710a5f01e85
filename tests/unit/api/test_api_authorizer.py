"""The HTTP API's Lambda authorizer: bearer token vs. the secret, constant-time compare."""

from __future__ import annotations

import hmac

import pytest

from api_support import Context, authorizer, event

TOKEN = "example-token-0123456789abcdef"


@pytest.fixture
def auth(monkeypatch):
    module = authorizer()
    monkeypatch.setenv("AUTH_ENABLED", "true")
    monkeypatch.setenv("TOKEN_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:memberseg-api-token")
    monkeypatch.setattr(module, "expected_token", lambda: TOKEN)
    return module


def test_right_token_is_allowed(auth):
    assert auth.handler(event("api_authorizer.json"), Context()) == {"isAuthorized": True}


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}",
                                    f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"])
def test_other_tokens_are_refused(auth, header):
    e = event("api_authorizer.json")
    e["headers"].pop("authorization")
    if header is not None:
        e["headers"]["Authorization"] = header
    assert auth.handler(e, Context()) == {"isAuthorized": False}


def test_auth_off_allows_everything(auth, monkeypatch):
    monkeypatch.setenv("AUTH_ENABLED", "false")
    e = event("api_authorizer.json")
    e["headers"] = {}
    assert auth.handler(e, Context()) == {"isAuthorized": True}


def test_compare_is_constant_time_and_refuses_weak_secrets(auth, monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert auth.token_matches(TOKEN, TOKEN) is True
    assert calls == [(TOKEN.encode(), TOKEN.encode())]
    assert auth.token_matches("", "") is False and auth.token_matches("short", "short") is False
    assert auth.token_matches(TOKEN, None) is False


def test_bearer_header_parsing(auth):
    assert auth.bearer_token({"Authorization": f"bearer   {TOKEN} "}) == TOKEN
    assert auth.bearer_token({"authorization": "Token x"}) is None
    assert auth.bearer_token(None) is None
