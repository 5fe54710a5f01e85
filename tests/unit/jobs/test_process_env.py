"""The processing function's and the sweeper's environment model (validated at cold start)."""

from __future__ import annotations

import datetime as dt

import local_aws
import pytest
from process_env import JobEnv

BASE = {"INPUT_BUCKET": "in-bucket", "OUTPUT_BUCKET": "out-bucket", "JOB_TABLE": "memberseg-jobs"}


@pytest.mark.parametrize("function_id", ["ProcessUploadFunction", "SweeperFunction"])
def test_the_templates_environment_is_valid(function_id):
    env = JobEnv.load(local_aws.stack().function_environment(function_id))
    settings = env.settings()
    assert settings.lease_s < 60                                      # a dead claim is free before Lambda's retry
    assert settings.heartbeat_s * 2 <= settings.lease_s
    assert settings.max_attempts == 3


def test_values_are_typed():
    env = JobEnv.load(BASE | {"RESULT_RETENTION_DAYS": "7", "JOB_AS_OF": "2026-11-15", "JOB_WORK_DIR": ""})
    assert env.result_retention_days == 7 and env.as_of == dt.date(2026, 11, 15) and env.work_dir is None


@pytest.mark.parametrize("change, named", [
    ({"INPUT_BUCKET": None}, "INPUT_BUCKET"), ({"MAX_ATTEMPTS": "three"}, "MAX_ATTEMPTS"),
    ({"LEASE_SECONDS": "60"}, "LEASE_SECONDS"), ({"UPLOAD_PREFIX": "uploads"}, "UPLOAD_PREFIX"),
    ({"JOB_AS_OF": "15.11.2026"}, "JOB_AS_OF"), ({"MAX_EVENT_AGE_SECONDS": "30"}, "MAX_EVENT_AGE_SECONDS"),
    ({"FUNCTION_TIMEOUT_SECONDS": "901"}, "FUNCTION_TIMEOUT_SECONDS"),
])
def test_a_bad_environment_fails_naming_the_variable(change, named):
    env = {k: v for k, v in (BASE | change).items() if v is not None}
    with pytest.raises(ValueError, match=named):
        JobEnv.load(env)


def test_a_heartbeat_slower_than_half_the_lease_is_refused():
    with pytest.raises(ValueError, match="HEARTBEAT_SECONDS"):
        JobEnv.load(BASE | {"LEASE_SECONDS": "30", "HEARTBEAT_SECONDS": "20"}).settings()


def test_the_sweeper_knows_when_lambdas_last_retry_can_still_run():
    """The sweeper's Settings carry the processing function's event age and timeout (template.yaml)."""
    st = local_aws.stack({"FunctionTimeoutSeconds": "890"})
    settings = JobEnv.load(st.function_environment("SweeperFunction")).settings()
    assert (settings.max_event_age_s, settings.function_timeout_s) == (3600, 890)
    assert settings.retries_over_at(1000.0) == 1000.0 + 3600 + 890 + settings.clock_margin_s
