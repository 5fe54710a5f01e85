"""The processing function's and the sweeper's environment, validated once at cold start.

A missing or malformed variable fails the import with pydantic's key-named message,
instead of a KeyError in the middle of a job.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

import jobs

_PREFIX = r"^[A-Za-z0-9_.-]+/$"


class JobEnv(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    input_bucket: str = Field(alias="INPUT_BUCKET", min_length=3, max_length=63)
    output_bucket: str = Field(alias="OUTPUT_BUCKET", min_length=3, max_length=63)
    job_table: str = Field(alias="JOB_TABLE", min_length=3, max_length=255)
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME", min_length=1)
    upload_prefix: str = Field("uploads/", alias="UPLOAD_PREFIX", pattern=_PREFIX)
    results_prefix: str = Field("results/", alias="RESULTS_PREFIX", pattern=_PREFIX)
    result_retention_days: int = Field(30, alias="RESULT_RETENTION_DAYS", ge=1, le=3650)
    max_attempts: int = Field(3, alias="MAX_ATTEMPTS", ge=1, le=10)
    lease_seconds: float = Field(30.0, alias="LEASE_SECONDS", gt=0, lt=60)   # under Lambda's 60 s retry delay
    heartbeat_seconds: float = Field(10.0, alias="HEARTBEAT_SECONDS", gt=0)
    # the sweeper's view of Lambda's retries (template.yaml: the processing function's EventInvokeConfig and
    # Timeout); unset, Settings' defaults apply
    max_event_age_seconds: float | None = Field(None, alias="MAX_EVENT_AGE_SECONDS", ge=60, le=21600)
    function_timeout_seconds: float | None = Field(None, alias="FUNCTION_TIMEOUT_SECONDS", ge=1, le=900)
    failure_queue: str | None = Field(None, alias="FAILURE_QUEUE_URL")      # the sweeper reads it
    work_dir: str | None = Field(None, alias="JOB_WORK_DIR")
    as_of: dt.date | None = Field(None, alias="JOB_AS_OF")

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> JobEnv:
        values = {k: v for k, v in (os.environ if env is None else env).items() if v != ""}
        return cls.model_validate(values)

    def settings(self) -> jobs.Settings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("HEARTBEAT_SECONDS must be at most half of LEASE_SECONDS")
        retries = {name: value for name, value in (("max_event_age_s", self.max_event_age_seconds),
                                                   ("function_timeout_s", self.function_timeout_seconds))
                   if value is not None}
        return jobs.Settings(
            input_bucket=self.input_bucket, output_bucket=self.output_bucket, upload_prefix=self.upload_prefix,
            results_prefix=self.results_prefix, retention_days=self.result_retention_days,
            max_attempts=self.max_attempts, lease_s=self.lease_seconds, heartbeat_s=self.heartbeat_seconds,
            work_dir=self.work_dir, as_of=self.as_of, **retries)
