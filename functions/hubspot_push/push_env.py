"""The push function's environment, validated once at cold start (a bad value fails by name)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

import push_flow

_PREFIX = r"^[A-Za-z0-9_.-]+/$"


class PushEnv(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    output_bucket: str = Field(alias="OUTPUT_BUCKET", min_length=3, max_length=63)
    job_table: str = Field(alias="JOB_TABLE", min_length=3, max_length=255)
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME", min_length=1)
    results_prefix: str = Field("results/", alias="RESULTS_PREFIX", pattern=_PREFIX)
    token_secret_arn: str = Field(alias="HUBSPOT_TOKEN_SECRET_ARN", min_length=1)
    api_base: str = Field("https://api.hubapi.com", alias="HUBSPOT_API_BASE", min_length=8)
    max_attempts: int = Field(3, alias="MAX_ATTEMPTS", ge=1, le=10)
    margin_seconds: float = Field(30.0, alias="PUSH_MARGIN_SECONDS", ge=5)
    work_dir: str | None = Field(None, alias="PUSH_WORK_DIR")

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> PushEnv:
        values = {k: v for k, v in (os.environ if env is None else env).items() if v != ""}
        return cls.model_validate(values)

    def settings(self) -> push_flow.Settings:
        return push_flow.Settings(output_bucket=self.output_bucket, results_prefix=self.results_prefix,
                                  api_base=self.api_base, max_attempts=self.max_attempts,
                                  margin_s=self.margin_seconds, work_dir=self.work_dir)
