"""Create the template's resources on a moto backend, from template.yaml itself.

Used by the integration/e2e tests and by `make demo-s3`, so the local buckets,
table and EventBridge rule can't drift from what `sam deploy` creates:
bucket names, versioning, encryption, public-access block, ownership, lifecycle,
CORS, EventBridge notifications and policies; the job table's keys, billing,
PITR and TTL; the failure queue; the function's environment; and the
EventBridge rule's pattern (targeting an SQS queue that stands in for the
Lambda target, since moto can only invoke Lambdas through Docker).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote_plus

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
FUNCTION_ID = "ProcessUploadFunction"
TRIGGER_QUEUE = "lambda-trigger-standin"


# ------------------------------------------------------------------ template loading
class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:
            raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{name}", node.start_mark)
        return {"Ref": value} if name == "Ref" else {f"Fn::{name}": value}
    return construct


for _name in ("Ref", "Sub", "GetAtt", "If", "Split", "Not", "Equals", "Join", "Select", "And", "Or",
              "FindInMap", "ImportValue", "Base64", "Condition", "GetAZs", "Contains", "EachMemberEquals",
              "EachMemberIn", "RefAll", "ValueOf", "ValueOfAll"):
    _CfnLoader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Resolver:
    template: dict
    overrides: dict = field(default_factory=dict)
    account: str = ACCOUNT_ID
    region: str = REGION

    def param(self, name: str) -> Any:
        pseudo = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": "aws",
                  "AWS::StackName": "memberseg-local", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}
        if name in pseudo:
            return pseudo[name]
        if name in self.overrides:
            return self.overrides[name]
        params = self.template.get("Parameters", {})
        if name in params:
            return params[name].get("Default")
        resources = self.template.get("Resources", {})
        if name in resources:   # !Ref of a resource: its physical name where we can know it
            return self.physical_name(name)
        raise KeyError(f"unresolvable Ref {name}")

    def physical_name(self, logical_id: str) -> Any:
        props = self.template["Resources"][logical_id].get("Properties", {})
        for key in ("BucketName", "TableName", "QueueName", "FunctionName", "LayerName"):
            if key in props:
                return self.resolve(props[key])
        return logical_id

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            intrinsic = self.INTRINSICS.get(fn)
            if intrinsic is not None:
                return intrinsic(self, arg)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not None}

    def _fn_sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(extra[m.group(1)] if m.group(1) in extra
                                                     else self._sub_var(m.group(1))), text)

    def _fn_get_att(self, arg: Any) -> str:
        logical, attr = arg
        kind = self.template["Resources"][logical]["Type"]
        if attr == "Arn" and kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{self.physical_name(logical)}"
        if attr == "Arn" and kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{self.region}:{self.account}:{self.physical_name(logical)}"
        return f"{logical}.{attr}"

    def _fn_if(self, arg: Any) -> Any:
        cond, yes, no = arg
        return self.resolve(yes if self.condition(cond) else no)

    def _fn_split(self, arg: Any) -> list[str]:
        sep, text = arg
        return str(self.resolve(text)).split(sep)

    def _fn_equals(self, arg: Any) -> bool:
        a, b = self.resolve(arg)
        return str(a) == str(b)

    # The CloudFormation intrinsic functions the template uses.
    INTRINSICS: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": lambda self, arg: self.param(arg),
        "Fn::Sub": _fn_sub,
        "Fn::GetAtt": _fn_get_att,
        "Fn::If": _fn_if,
        "Fn::Split": _fn_split,
        "Fn::Not": lambda self, arg: not self.resolve(arg[0]),
        "Fn::Equals": _fn_equals,
        "Condition": lambda self, arg: self.condition(arg),
    }

    def _sub_var(self, name: str) -> Any:
        if "." in name:
            logical, attr = name.split(".", 1)
            return self.resolve({"Fn::GetAtt": [logical, attr]})
        return self.param(name)


class LambdaContext:
    """The context object Lambda passes a handler, for running handlers locally and in tests."""

    def __init__(self, function_name: str = "memberseg-process-upload", memory_limit_in_mb: int = 6144,
                 remaining_ms: int = 900_000) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


# ------------------------------------------------------------------ what the template defines
@dataclass
class Stack:
    resolver: Resolver

    @property
    def template(self) -> dict:
        return self.resolver.template

    def resources(self, type_: str) -> dict[str, dict]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def props(self, logical_id: str) -> dict:
        return self.resolver.resolve(self.template["Resources"][logical_id].get("Properties", {}))

    @property
    def input_bucket(self) -> str:
        return self.resolver.physical_name("InputBucket")

    @property
    def output_bucket(self) -> str:
        return self.resolver.physical_name("OutputBucket")

    @property
    def table_name(self) -> str:
        return self.resolver.physical_name("JobTable")

    def function_environment(self, function_id: str = FUNCTION_ID) -> dict[str, str]:
        env = dict(self.resolver.resolve(self.template.get("Globals", {}).get("Function", {})
                                         .get("Environment", {}).get("Variables", {})))
        env.update(self.props(function_id).get("Environment", {}).get("Variables", {}))
        return {k: str(v) for k, v in env.items()}

    def trigger_rule(self, function_id: str = FUNCTION_ID) -> tuple[str, dict]:
        events = self.props(function_id)["Events"]
        (rule,) = [e["Properties"] for e in events.values() if e["Type"] == "EventBridgeRule"]
        return rule["RuleName"], rule["Pattern"]


def stack(overrides: dict | None = None) -> Stack:
    return Stack(Resolver(load_template(), overrides or {}))


# ------------------------------------------------------------------ create on moto
def _lifecycle(rules: list[dict]) -> dict:
    out = []
    for rule in rules:
        api: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        if rule.get("ExpiredObjectDeleteMarker"):
            api["Expiration"] = {"ExpiredObjectDeleteMarker": True}
        if "NoncurrentVersionExpiration" in rule:
            days = int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
            api["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
        out.append(api)
    return {"Rules": out}


def create_buckets(st: Stack, s3: Any) -> None:
    for logical_id in st.resources("AWS::S3::Bucket"):
        p = st.props(logical_id)
        name = p["BucketName"]
        s3.create_bucket(Bucket=name)
        if p.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if "PublicAccessBlockConfiguration" in p:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
        if "OwnershipControls" in p:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
        if "BucketEncryption" in p:
            rules = [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"],
                      "BucketKeyEnabled": bool(r.get("BucketKeyEnabled"))}
                     for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "LifecycleConfiguration" in p:
            s3.put_bucket_lifecycle_configuration(Bucket=name,
                                                  LifecycleConfiguration=_lifecycle(p["LifecycleConfiguration"]["Rules"]))
        if p.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(Bucket=name,
                                                     NotificationConfiguration={"EventBridgeConfiguration": {}})
        if p.get("CorsConfiguration"):
            rules = [{"ID": r.get("Id", "cors"), "AllowedMethods": r["AllowedMethods"],
                      "AllowedOrigins": r["AllowedOrigins"],
                      "AllowedHeaders": r.get("AllowedHeaders", []), "ExposeHeaders": r.get("ExposedHeaders", []),
                      "MaxAgeSeconds": int(r.get("MaxAge", 0))} for r in p["CorsConfiguration"]["CorsRules"]]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    # Bucket policies (deny aws:SecureTransport=false) are not applied: moto ignores policy
    # conditions, so it would deny every request. tests/unit/jobs/test_template.py checks them.


def create_table(st: Stack, dynamodb: Any) -> None:
    for logical_id in st.resources("AWS::DynamoDB::Table"):
        p = st.props(logical_id)
        dynamodb.create_table(TableName=p["TableName"], KeySchema=p["KeySchema"],
                              AttributeDefinitions=p["AttributeDefinitions"], BillingMode=p["BillingMode"])
        if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(
                TableName=p["TableName"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        if p.get("TimeToLiveSpecification", {}).get("Enabled"):
            dynamodb.update_time_to_live(TableName=p["TableName"], TimeToLiveSpecification=p["TimeToLiveSpecification"])


def create_queues(st: Stack, sqs: Any) -> dict[str, str]:
    return {logical_id: sqs.create_queue(QueueName=st.props(logical_id)["QueueName"])["QueueUrl"]
            for logical_id in st.resources("AWS::SQS::Queue")}


@dataclass
class LocalStack:
    stack: Stack
    trigger_queue_url: str
    job_events_queue_url: str
    queues: dict[str, str]


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def deploy(session: Any, overrides: dict | None = None, *, template: Stack | None = None) -> LocalStack:
    """Create everything the template defines (that moto can hold) with this boto3 session.

    `template` is an already resolved stack (e.g. with the API fragment); by default, template.yaml's."""
    st = template if template is not None else stack(overrides)
    s3, ddb, sqs, events = (session.client(n) for n in ("s3", "dynamodb", "sqs", "events"))
    create_buckets(st, s3)
    create_table(st, ddb)
    queues = create_queues(st, sqs)
    # the function's trigger: the template's rule, targeting a queue that stands in for Lambda
    rule_name, pattern = st.trigger_rule()
    trigger_url = sqs.create_queue(QueueName=TRIGGER_QUEUE)["QueueUrl"]
    events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule_name, Targets=[{"Id": "process-upload", "Arn": _queue_arn(sqs, trigger_url)}])
    # a subscriber to the job events, as a user's automation would be
    job_events_url = sqs.create_queue(QueueName="job-events-subscriber")["QueueUrl"]
    events.put_rule(Name="job-events-subscriber", State="ENABLED",
                    EventPattern=json.dumps({"source": ["memberseg.jobs"]}))
    events.put_targets(Rule="job-events-subscriber",
                       Targets=[{"Id": "subscriber", "Arn": _queue_arn(sqs, job_events_url)}])
    return LocalStack(st, trigger_url, job_events_url, queues)


def as_delivered_by_aws(event: dict) -> dict:
    """moto puts the raw key into S3 EventBridge events; AWS URL-encodes it (spaces as '+').

    Re-encode so the handler sees exactly what EventBridge delivers in AWS.
    """
    event = json.loads(json.dumps(event))
    obj = event.get("detail", {}).get("object", {})
    if "key" in obj:
        obj["key"] = quote_plus(obj["key"], safe="/")
    return event


def drain(sqs: Any, queue_url: str, *, wait_s: int = 0, max_messages: int = 100) -> list[dict]:
    """Receive and delete up to max_messages bodies (JSON) from a queue."""
    bodies: list[dict] = []
    while len(bodies) < max_messages:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
        messages = batch.get("Messages", [])
        if not messages:
            break
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies
