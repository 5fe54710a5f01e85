"""The API's and the authorizer's environments, validated once at cold start (pydantic).

AUTH_ENABLED fails closed: only an explicit false/0/no/off turns the token check off;
unset or empty keeps it on; any other value (a typo) refuses to start.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

OFF = frozenset({"false", "0", "no", "off"})
ON = frozenset({"true", "1", "yes", "on", ""})
_PREFIX = r"^[A-Za-z0-9_.-]+/$"


def auth_switch(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in OFF:
        return False
    if text in ON:
        return True
    raise ValueError(f"AUTH_ENABLED={value!r} is neither true nor false; refusing to start with auth unclear")


class _Env(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Any:
        return cls.model_validate(dict(os.environ if env is None else env))


class ApiEnv(_Env):
    input_bucket: str = Field(alias="INPUT_BUCKET", min_length=3, max_length=63)
    output_bucket: str = Field(alias="OUTPUT_BUCKET", min_length=3, max_length=63)
    job_table: str = Field(alias="JOB_TABLE", min_length=3, max_length=255)
    max_upload_mb: int = Field(50, alias="MAX_UPLOAD_MB", ge=1, le=5000)
    upload_prefix: str = Field("uploads/", alias="UPLOAD_PREFIX", pattern=_PREFIX)
    results_prefix: str = Field("results/", alias="RESULTS_PREFIX", pattern=_PREFIX)
    result_retention_days: int = Field(30, alias="RESULT_RETENTION_DAYS", ge=1, le=3650)
    auth_enabled: bool = Field(True, alias="AUTH_ENABLED")
    # the date the page's as-of picker starts at (make serve: the demo's, as make demo); unset: the browser's today
    page_as_of: dt.date | None = Field(None, alias="PAGE_AS_OF")

    _auth = field_validator("auth_enabled", mode="before")(classmethod(lambda cls, v: auth_switch(v)))
    _blank_date = field_validator("page_as_of", mode="before")(classmethod(lambda cls, v: v or None))


class AuthorizerEnv(_Env):
    auth_enabled: bool = Field(True, alias="AUTH_ENABLED")
    token_secret_arn: str | None = Field(None, alias="TOKEN_SECRET_ARN")
    token_cache_seconds: int = Field(300, alias="TOKEN_CACHE_SECONDS", ge=0, le=3600)

    _auth = field_validator("auth_enabled", mode="before")(classmethod(lambda cls, v: auth_switch(v)))

    @field_validator("token_secret_arn")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None
