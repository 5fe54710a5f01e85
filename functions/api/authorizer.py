"""Lambda authorizer of the HTTP API (payload 2.0, simple responses).

Allows a request whose `Authorization: Bearer <token>` equals the secret in Secrets
Manager (env TOKEN_SECRET_ARN), compared in constant time. The secret is cached for
TOKEN_CACHE_SECONDS (default 300), so a rotated token is in force within that time
plus the API's authorizer-result cache. Only an explicit AUTH_ENABLED=false (0, no, off)
allows everything (the template parameter AuthEnabled, for internal or local use); a value
that is neither fails at cold start (api_env.py).
"""

from __future__ import annotations

import hmac

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_env import AuthorizerEnv

logger = Logger(service="memberseg-api-authorizer")

MIN_TOKEN_LENGTH = 16


def bearer_token(headers: dict | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def token_matches(presented: str | None, expected: str | None) -> bool:
    """Constant-time compare; an empty or short expected secret never matches."""
    if not presented or not expected or len(expected) < MIN_TOKEN_LENGTH:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


AuthorizerEnv.load()       # cold start: AUTH_ENABLED must say true or false


def expected_token() -> str:
    env = AuthorizerEnv.load()
    if env.token_secret_arn is None:
        return ""                       # no secret configured: nothing matches (fail closed)
    value = parameters.get_secret(env.token_secret_arn, max_age=env.token_cache_seconds)
    return (value or "").strip()


def auth_enabled() -> bool:
    return AuthorizerEnv.load().auth_enabled


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    if not auth_enabled():
        return {"isAuthorized": True}
    allowed = token_matches(bearer_token(event.get("headers")), expected_token())
    if not allowed:
        source_ip = event.get("requestContext", {}).get("http", {}).get("sourceIp")
        logger.warning("rejected a request", extra={"route": event.get("routeKey"), "source_ip": source_ip})
    return {"isAuthorized": allowed}
