"""The push function's environment model: the template's environment validates; bad values fail by name."""

from __future__ import annotations

import pydantic
import pytest

import local_aws
from push_env import PushEnv

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hubspot-AbCdEf"


def test_the_templates_environment_is_valid_once_the_secret_is_given():
    env = local_aws.stack({"HubSpotPush": "true", "HubSpotTokenSecretArn": SECRET}).function_environment(
        "HubSpotPushFunction")
    loaded = PushEnv.load(env)
    assert loaded.token_secret_arn == SECRET and loaded.api_base == "https://api.hubapi.com"
    assert loaded.settings().output_bucket == loaded.output_bucket


@pytest.mark.parametrize(("change", "named"), [
    ({"HUBSPOT_TOKEN_SECRET_ARN": ""}, "HUBSPOT_TOKEN_SECRET_ARN"),
    ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS"),
    ({"RESULTS_PREFIX": "results"}, "RESULTS_PREFIX"),
])
def test_a_bad_environment_fails_naming_the_variable(change, named):
    env = {"OUTPUT_BUCKET": "out-bucket", "JOB_TABLE": "memberseg-jobs", "HUBSPOT_TOKEN_SECRET_ARN": SECRET} | change
    with pytest.raises(pydantic.ValidationError, match=named):
        PushEnv.load(env)
