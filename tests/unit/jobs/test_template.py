"""Static checks of template.yaml: the security and wiring promises that lint tools don't check."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jobs
import local_aws
import pytest

ROOT = Path(__file__).resolve().parents[3]

TEMPLATE = local_aws.load_template()
RES = TEMPLATE["Resources"]
FUNCTION = RES["ProcessUploadFunction"]


def walk(value):
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def test_function_runs_python313_on_arm64_with_the_layer():
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert FUNCTION["Properties"]["Layers"] == [{"Ref": "MembersegLayer"}, {"Ref": "DuckdbLayer"}]
    for name, folder in (("MembersegLayer", "memberseg"), ("DuckdbLayer", "duckdb")):
        layer = RES[name]
        assert layer["Metadata"]["BuildMethod"] == "makefile"
        assert layer["Properties"]["ContentUri"].rstrip("/") == f"layers/{folder}"
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        assert f"build-{name}:" in (ROOT / "layers" / folder / "Makefile").read_text()
    makefile = (ROOT / "layers" / "memberseg" / "Makefile").read_text()
    assert "--platform $(LAYER_PLATFORM)" in makefile and "manylinux2014_aarch64" in makefile
    # DuckDB's recent releases have no manylinux2014 aarch64 wheel: that tag alone would resolve 1.2.2
    assert "LAYER_PLATFORM ?= manylinux_2_28_aarch64" in (ROOT / "layers" / "duckdb" / "Makefile").read_text()


def test_memory_and_timeout_come_from_parameters_and_cover_the_engine_limit():
    g = TEMPLATE["Globals"]["Function"]
    assert g["MemorySize"] == {"Ref": "FunctionMemoryMB"}
    assert g["Timeout"] == {"Ref": "FunctionTimeoutSeconds"}
    rules = (ROOT / "layers" / "memberseg" / "memberseg" / "default_rules.yaml").read_text()
    engine_limit = int(re.search(r"timeout_seconds:\s*(\d+)", rules).group(1))
    assert TEMPLATE["Parameters"]["FunctionTimeoutSeconds"]["Default"] > engine_limit


def test_the_function_timeout_must_cover_the_engine_limit_plus_the_commit_margin():
    """A CloudFormation Rule (and MinValue) refuse any FunctionTimeoutSeconds <= engine limit + margin."""
    rules = (ROOT / "layers" / "memberseg" / "memberseg" / "default_rules.yaml").read_text()
    engine_limit = float(re.search(r"timeout_seconds:\s*(\d+)", rules).group(1))
    margin = jobs.Settings(input_bucket="i", output_bucket="o").commit_margin_s
    floor = int(engine_limit + margin)                       # 885: refused
    param = TEMPLATE["Parameters"]["FunctionTimeoutSeconds"]
    (assertion,) = TEMPLATE["Rules"]["TimeoutCoversEngineAndCommit"]["Assertions"]
    allowed, ref = assertion["Assert"]["Fn::Contains"]
    assert ref == {"Ref": "FunctionTimeoutSeconds"}
    assert allowed == [str(n) for n in range(floor + 1, param["MaxValue"] + 1)]
    assert param["MinValue"] == floor + 1 and param["MinValue"] <= param["Default"] <= param["MaxValue"]


def test_iam_is_trimmed_to_what_the_functions_call():
    by_sid = {s["Sid"]: s for p in FUNCTION["Properties"]["Policies"] for s in p["Statement"]}
    assert sorted(by_sid["JobTable"]["Action"]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]      # no PutItem
    assert sorted(by_sid["WriteResults"]["Action"]) == ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"]
    sweeper = {s["Sid"]: s for p in RES["SweeperFunction"]["Properties"]["Policies"] for s in p["Statement"]}
    assert sorted(sweeper["JobTable"]["Action"]) == ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:UpdateItem"]
    assert all("GetObject" not in a for s in sweeper.values() for a in s["Action"])


def test_the_sweeper_runs_every_five_minutes_with_the_processing_code():
    props = RES["SweeperFunction"]["Properties"]
    assert props["Handler"] == "sweeper_handler.handler" and props["CodeUri"] == FUNCTION["Properties"]["CodeUri"]
    (schedule,) = props["Events"].values()
    assert schedule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    st = local_aws.stack()
    process_env, sweeper_env = st.function_environment(), st.function_environment("SweeperFunction")
    for name in ("INPUT_BUCKET", "OUTPUT_BUCKET", "JOB_TABLE", "RESULTS_PREFIX", "MAX_ATTEMPTS"):
        assert sweeper_env[name] == process_env[name], name


def test_the_sweeper_reads_lambdas_retry_schedule_from_the_processing_functions_own_settings():
    """The sweeper ends a run only after Lambda's last possible retry: its timing must be the processing
    function's EventInvokeConfig and Timeout, not a copy that can drift."""
    invoke = FUNCTION["Properties"]["EventInvokeConfig"]
    sweeper_env = RES["SweeperFunction"]["Properties"]["Environment"]["Variables"]
    assert sweeper_env["MAX_EVENT_AGE_SECONDS"] == str(invoke["MaximumEventAgeInSeconds"])
    assert sweeper_env["FUNCTION_TIMEOUT_SECONDS"] == TEMPLATE["Globals"]["Function"]["Timeout"] \
        == {"Ref": "FunctionTimeoutSeconds"}
    assert "Timeout" not in FUNCTION["Properties"]                    # the processing function uses the global
    st = local_aws.stack()
    assert st.function_environment("SweeperFunction")["FUNCTION_TIMEOUT_SECONDS"] == str(
        TEMPLATE["Parameters"]["FunctionTimeoutSeconds"]["Default"])
    assert int(st.function_environment()["MAX_ATTEMPTS"]) == invoke["MaximumRetryAttempts"] + 1


def test_function_policies_name_no_wildcard_resources():
    statements = [s for policy in FUNCTION["Properties"]["Policies"] for s in policy["Statement"]]
    assert statements
    for statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
            assert text != "*" and not text.endswith(":*"), statement["Sid"]
        assert all("*" not in action for action in statement["Action"]), statement["Sid"]
    reads = next(s for s in statements if s["Sid"] == "ReadUploads")
    assert reads["Resource"]["Fn::Sub"].endswith("/uploads/*")
    writes = next(s for s in statements if s["Sid"] == "WriteResults")
    assert "-output-" in writes["Resource"]["Fn::Sub"] and writes["Resource"]["Fn::Sub"].endswith("/results/*")
    # the one write to the input bucket: a profile the page's answers finished, under profiles/, which the
    # trigger rule never matches (it matches uploads/ only): the function never triggers itself
    input_writes = [s for s in statements if isinstance(s["Resource"], dict) and "s3:PutObject" in s["Action"]
                    and "-input-" in s["Resource"]["Fn::Sub"]]
    assert [s["Sid"] for s in input_writes] == ["SaveAnsweredProfiles"]
    assert input_writes[0]["Action"] == ["s3:PutObject"]
    assert input_writes[0]["Resource"]["Fn::Sub"].endswith("/profiles/*")


def test_the_processing_function_lists_and_reads_profiles_and_nothing_more():
    """profiles/*.yaml in the input bucket: s3:ListBucket only under the prefix, s3:GetObject only below it;
    written only by SaveAnsweredProfiles (s3:PutObject of the profile the page's answers finished, checked in
    test_function_policies_name_no_wildcard_resources), never versions, and no other role reads them."""
    by_sid = {s["Sid"]: s for p in FUNCTION["Properties"]["Policies"] for s in p["Statement"]}
    listing, reading = by_sid["ListProfiles"], by_sid["ReadProfiles"]
    assert listing["Action"] == ["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["profiles/*"]}}
    assert listing["Resource"]["Fn::Sub"].endswith("-input-${AWS::AccountId}-${AWS::Region}")
    assert reading["Action"] == ["s3:GetObject"]
    assert reading["Resource"]["Fn::Sub"].endswith("-input-${AWS::AccountId}-${AWS::Region}/profiles/*")
    assert not any("profiles/" in json.dumps(s) for sid, s in by_sid.items() if sid not in ("ListProfiles",
                                                                                            "ReadProfiles",
                                                                                            "SaveAnsweredProfiles"))
    assert by_sid["SaveAnsweredProfiles"]["Action"] == ["s3:PutObject"]
    sweeper = RES["SweeperFunction"]["Properties"]["Policies"]
    assert "profiles/" not in json.dumps(sweeper)


def test_trigger_rule_matches_only_the_input_bucket_and_uploads_prefix():
    st = local_aws.stack()
    _, pattern = st.trigger_rule()
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [st.input_bucket]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "uploads/"}]
    assert st.input_bucket != st.output_bucket
    output = RES["OutputBucket"]["Properties"]
    assert "NotificationConfiguration" not in output          # the output bucket never notifies


def test_function_environment_names_the_template_resources():
    st = local_aws.stack()
    env = st.function_environment()
    assert env["INPUT_BUCKET"] == st.input_bucket
    assert env["OUTPUT_BUCKET"] == st.output_bucket
    assert env["JOB_TABLE"] == st.table_name


@pytest.mark.parametrize("bucket", ["InputBucket", "OutputBucket"])
def test_buckets_are_hardened(bucket):
    props = RES[bucket]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)
    assert any(isinstance(r.get("ExpirationInDays"), dict) and "Ref" in r["ExpirationInDays"] for r in rules)
    (policy,) = [r for r in RES.values() if r["Type"] == "AWS::S3::BucketPolicy"
                 and r["Properties"]["Bucket"] == {"Ref": bucket}]
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_upload_retention_defaults_to_seven_days_and_cors_is_a_parameter():
    assert TEMPLATE["Parameters"]["UploadRetentionDays"]["Default"] == 7
    origins = RES["InputBucket"]["Properties"]["CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"]
    assert origins["Fn::If"][0] == "HasCors"
    page = "https://HttpApi.execute-api.us-east-1.amazonaws.com"  # the deployed upload page's origin
    assert local_aws.stack({"UploadCorsOrigins": "https://a.example,https://b.example"}).props("InputBucket")[
        "CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"] == [page, "https://a.example", "https://b.example"]
    assert local_aws.stack().props("InputBucket")["CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"] == [page]


def test_job_table_failure_path_alarms_and_outputs():
    table = RES["JobTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    invoke = FUNCTION["Properties"]["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    alarms = [r["Properties"] for r in RES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {(a["MetricName"], a["Dimensions"][0]["Value"].get("Ref", str(a["Dimensions"][0]["Value"]))
                if isinstance(a["Dimensions"][0]["Value"], dict) else a["Dimensions"][0]["Value"]) for a in alarms}
    assert {("Errors", "ProcessUploadFunction"), ("Errors", "ApiFunction"), ("Errors", "ApiAuthorizerFunction"),
            ("Errors", "SweeperFunction"), ("5xx", "HttpApi"), ("StuckJobs", "memberseg-sweeper")} <= watched
    assert "ApproximateNumberOfMessagesVisible" in {a["MetricName"] for a in alarms}
    for alarm in alarms:                                     # every alarm notifies the stack's topic
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm["AlarmName"]
    assert RES["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert RES["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    assert {"InputBucketName", "OutputBucketName", "ProcessUploadFunctionArn", "JobTableName"} <= set(TEMPLATE["Outputs"])


def test_processing_concurrency_is_a_parameter_with_alarms():
    """0 = no cap (a fixed one would fail deployment on new accounts); either way an alarm watches it."""
    param = TEMPLATE["Parameters"]["ProcessingReservedConcurrency"]
    assert param["Type"] == "Number" and param["Default"] == 0 and param["MinValue"] == 0
    assert TEMPLATE["Conditions"]["CapProcessing"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ProcessingReservedConcurrency"}, "0"]}]}
    assert FUNCTION["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["CapProcessing", {"Ref": "ProcessingReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    skips = {s["id"] for s in FUNCTION["Metadata"]["checkov"]["skip"]}
    assert "CKV_AWS_115" not in skips                        # checkov sees the parameter, no skip needed
    concurrency = RES["ProcessingConcurrencyAlarm"]
    assert "Condition" not in concurrency
    assert concurrency["Properties"]["MetricName"] == "ConcurrentExecutions"
    assert concurrency["Properties"]["Threshold"] == {"Ref": "ProcessingConcurrencyAlarmAt"}
    throttles = RES["ProcessingThrottlesAlarm"]
    assert throttles["Condition"] == "CapProcessing" and throttles["Properties"]["MetricName"] == "Throttles"
    for alarm in (concurrency, throttles):
        props = alarm["Properties"]
        assert props["Namespace"] == "AWS/Lambda" and props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ProcessUploadFunction"}}]
    # a job over the cap waits in Lambda's event queue; one that waited too long reaches the failure
    # queue, which the sweeper reads (docs/job-protocol.md "Concurrency")
    invoke = FUNCTION["Properties"]["EventInvokeConfig"]
    assert invoke["MaximumEventAgeInSeconds"] == 3600
    assert RES["SweeperFunction"]["Properties"]["Environment"]["Variables"]["FAILURE_QUEUE_URL"] == {"Ref": "FailureQueue"}


def test_every_checkov_skip_carries_a_reason():
    skips = [(name, skip) for name, r in RES.items()
             for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "").split()) >= 8, f"{name} {skip['id']} needs a real reason"


def test_layer_requirements_match_the_project_dependencies():
    def names(lines):
        return {re.split(r"[<>=!~\[ ]", line.strip(), maxsplit=1)[0].lower(): line.strip() for line in lines
                if line.strip() and not line.strip().startswith("#")}

    project = names(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    layer = names((ROOT / "layers" / "memberseg" / "requirements.txt").read_text().splitlines())
    duckdb = names((ROOT / "layers" / "duckdb" / "requirements.txt").read_text().splitlines())
    assert set(duckdb) == {"duckdb"} and not set(duckdb) & set(layer)   # DuckDB's 53 MB: a layer of its own
    layer |= duckdb
    for name, spec in project.items():
        assert name in layer, f"{name} missing from the layers"
        assert layer[name].split("#")[0].strip() == spec.split("#")[0].strip(), name
    for spec in layer.values():
        assert re.search(r">=", spec) and re.search(r"<", spec), f"unbounded: {spec}"


def _locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (pinned version, hashes) of a pip requirements lock (`name==version \\ --hash=...`)."""
    from packaging.utils import canonicalize_name

    pins: dict[str, tuple[str, list[str]]] = {}
    for entry in re.sub(r"\\\n", " ", path.read_text()).splitlines():
        entry = entry.split("#", 1)[0].strip() if not entry.lstrip().startswith("--hash") else entry.strip()
        if not entry:
            continue
        requirement, *options = entry.split()
        name, _, version = requirement.partition("==")
        assert version, f"{path.name}: {requirement} is not pinned with =="
        hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:")]
        pins[canonicalize_name(name)] = (version, hashes)
    return pins


@pytest.mark.parametrize("layer, ranges, lock", [("memberseg", "requirements.txt", "requirements.lock"),
                                                 ("memberseg", "requirements-nodeps.txt", "requirements-nodeps.lock"),
                                                 ("duckdb", "requirements.txt", "requirements.lock")])
def test_the_layer_installs_a_hashed_lock_that_satisfies_every_range(layer, ranges, lock):
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    folder = ROOT / "layers" / layer
    pins = _locked(folder / lock)
    wanted = [Requirement(line.split("#", 1)[0]) for line in (folder / ranges).read_text().splitlines()
              if line.split("#", 1)[0].strip()]
    assert wanted
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} does not pin {name}"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), \
            f"{lock} pins {name}=={pins[name][0]}, outside {requirement.specifier} ({ranges})"
    for name, (_, hashes) in pins.items():
        assert hashes, f"{lock}: {name} has no hash (pip's --require-hashes would refuse it)"
    if lock == "requirements-nodeps.lock":
        assert set(pins) == {canonicalize_name(r.name) for r in wanted}    # installed --no-deps: nothing else
    makefile = (folder / "Makefile").read_text()
    assert f'-r "$(LAYER_DIR){lock}"' in makefile and f'-r "$(LAYER_DIR){ranges}"' not in makefile
    installs = [line for line in makefile.splitlines() if line.strip().startswith("$(PIP) install")]
    assert len(installs) == {"memberseg": 2, "duckdb": 1}[layer] and all("--require-hashes" in line for line in installs)
    assert "\nlock:" in makefile
