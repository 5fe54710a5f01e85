"""Static checks of the upload API's SAM resources in template.yaml: no pandas layer, least
privilege, which routes need the token, one upload limit."""

from __future__ import annotations

import api_support
import api_core
import serve_local

TEMPLATE = serve_local.template_with_api()
RES = TEMPLATE["Resources"]
API = RES["ApiFunction"]["Properties"]
AUTHORIZER = RES["ApiAuthorizerFunction"]["Properties"]


def statements(props):
    return [s for policy in props["Policies"] for s in policy["Statement"]]


def sub(value):
    return value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value


def test_api_function_has_no_pandas_layer_and_is_small():
    assert "Layers" not in API
    assert API["Handler"] == "api_handler.handler" and API["CodeUri"].rstrip("/") == "functions/api"
    assert AUTHORIZER["Handler"] == "authorizer.handler" and "Layers" not in AUTHORIZER
    assert API["MemorySize"] <= 1024 and API["Timeout"] <= 30
    assert "Layers" not in TEMPLATE["Globals"]["Function"]
    makefile = (api_support.API_DIR / "Makefile").read_text()
    assert "build-ApiFunction" in makefile and "build-ApiAuthorizerFunction" in makefile
    packages = [line.split("#")[0].strip().lower() for line in
                (api_support.API_DIR / "requirements.txt").read_text().splitlines() if line.split("#")[0].strip()]
    assert any(p.startswith("aws-lambda-powertools") for p in packages)
    assert not any(p.startswith(("pandas", "numpy", "python-calamine", "boto3", "botocore")) for p in packages)


def test_api_permissions_are_least_privilege():
    by_sid = {s["Sid"]: s for s in statements(API)}
    assert by_sid["PresignUploads"]["Action"] == ["s3:PutObject"]
    assert sub(by_sid["PresignUploads"]["Resource"]).endswith("-input-${AWS::AccountId}-${AWS::Region}/uploads/*")
    assert by_sid["ReadResults"]["Action"] == ["s3:GetObject"]
    assert sub(by_sid["ReadResults"]["Resource"]).endswith("-output-${AWS::AccountId}-${AWS::Region}/results/*")
    assert by_sid["ListUploads"]["Action"] == ["s3:ListBucket"]
    assert by_sid["ListUploads"]["Condition"] == {"StringLike": {"s3:prefix": ["uploads/*"]}}
    # PUT /profiles/{name}: the profiles/ folder alone, listed under its prefix only
    assert by_sid["ListProfiles"]["Action"] == ["s3:ListBucket"]
    assert by_sid["ListProfiles"]["Condition"] == {"StringLike": {"s3:prefix": ["profiles/*"]}}
    assert sorted(by_sid["SaveProfiles"]["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert sub(by_sid["SaveProfiles"]["Resource"]).endswith("-input-${AWS::AccountId}-${AWS::Region}/profiles/*")
    assert not any("s3:GetObject" in s["Action"] and "/uploads/" in sub(s["Resource"]) for s in statements(API))
    assert sorted(by_sid["JobStatus"]["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]  # no Query
    assert sub(by_sid["JobStatus"]["Resource"]).endswith(":table/${NamePrefix}-jobs")
    for s in statements(API) + statements(AUTHORIZER):
        assert all("*" not in a for a in s["Action"]), s["Sid"]
        assert sub(s["Resource"]) != "*"
    (read_token,) = statements(AUTHORIZER)
    assert read_token["Action"] == ["secretsmanager:GetSecretValue"]
    assert read_token["Resource"] == {"Ref": "ApiTokenSecret"}


def body_authorizer(body, name="TokenAuthorizer"):
    return body["components"]["securitySchemes"][name]["x-amazon-apigateway-authorizer"]


def test_token_routes_and_public_page():
    http_api = RES["HttpApi"]["Properties"]
    assert "Auth" not in http_api              # the authorizer lives in the OpenAPI body, with a condition
    body = http_api["DefinitionBody"]
    authorizer = body_authorizer(body)
    assert authorizer["type"] == "request" and "${ApiAuthorizerFunction.Arn}" in sub(authorizer["authorizerUri"])
    assert authorizer["enableSimpleResponses"] is True and authorizer["authorizerPayloadFormatVersion"] == "2.0"
    # API Gateway answers 401 to a request without the header, and caches each token's decision
    assert authorizer["identitySource"] == ["$request.header.Authorization"]
    assert authorizer["authorizerResultTtlInSeconds"] == 300
    guarded = {(method.upper(), path) for path, methods in body["paths"].items() for method in methods}
    assert guarded == {("POST", "/jobs"), ("GET", "/jobs/{job_id}"), ("POST", "/jobs/{job_id}/rerun"),
                       ("PUT", "/profiles/{name}"), ("POST", "/jobs/{job_id}/answers"),
                       ("POST", "/jobs/{job_id}/uploads")}
    for methods in body["paths"].values():
        for operation in methods.values():
            assert operation["security"] == {"Fn::If": ["AuthOn", [{"TokenAuthorizer": []}], {"Ref": "AWS::NoValue"}]}
    assert TEMPLATE["Conditions"]["AuthOn"] == {"Fn::Equals": [{"Ref": "AuthEnabled"}, "true"]}
    permission = RES["ApiAuthorizerPermission"]
    assert permission["Condition"] == "AuthOn" and permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": ["ApiAuthorizerFunction", "Arn"]}
    assert sub(permission["Properties"]["SourceArn"]).endswith(":${HttpApi}/authorizers/*")
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in API["Events"].values()}
    assert routes == guarded | {("GET", "/"), ("GET", "/static/{name}")}
    assert not any("Auth" in e["Properties"] for e in API["Events"].values())
    for path in ("/", "/static/{name}"):
        assert serve_local.is_public("GET", path.replace("{name}", "app.js"))
    assert not serve_local.is_public("POST", "/jobs") and not serve_local.is_public("GET", "/jobs/x")
    assert not serve_local.is_public("PUT", "/profiles/acme") and not serve_local.is_public("POST", "/jobs/x/rerun")


def test_the_local_gateway_guards_the_job_routes_as_the_template_does():
    assert serve_local.job_route_identity(serve_local.api_stack({"AuthEnabled": "true"})) == ("authorization",)
    assert serve_local.job_route_identity(serve_local.api_stack({"AuthEnabled": "false"})) is None


class _Recording:
    """A stand-in handler module that records its events and answers with `answer`."""

    def __init__(self, answer):
        self.events, self.answer = [], answer

    def handler(self, event, context):
        self.events.append(event)
        return self.answer


def test_a_request_without_the_identity_header_never_reaches_the_authorizer():
    api = _Recording({"statusCode": 200, "body": "{}"})
    authorizer = _Recording({"isAuthorized": False})
    gateway = serve_local.ApiGateway(api, authorizer, ("authorization",))
    status, _, body = gateway.handle("POST", "/jobs", {}, b"{}")
    assert (status, body) == (401, b'{"message":"Unauthorized"}') and not authorizer.events and not api.events
    assert gateway.handle("POST", "/jobs", {"Authorization": "Bearer wrong"}, b"{}")[0] == 403
    assert len(authorizer.events) == 1 and not api.events
    assert gateway.handle("GET", "/", {}, b"")[0] == 200 and not authorizer.events[1:]     # the page is public


def test_auth_switch_and_upload_limit_come_from_parameters():
    params = TEMPLATE["Parameters"]
    assert params["AuthEnabled"]["Default"] == "true" and params["AuthEnabled"]["AllowedValues"] == ["true", "false"]
    assert API["Environment"]["Variables"]["AUTH_ENABLED"] == {"Ref": "AuthEnabled"}
    assert AUTHORIZER["Environment"]["Variables"]["AUTH_ENABLED"] == {"Ref": "AuthEnabled"}
    assert AUTHORIZER["Environment"]["Variables"]["TOKEN_SECRET_ARN"] == {"Ref": "ApiTokenSecret"}
    assert params["MaxUploadMB"]["Default"] == api_core.DEFAULT_MAX_UPLOAD_MB
    assert API["Environment"]["Variables"]["MAX_UPLOAD_MB"] == {"Ref": "MaxUploadMB"}
    secret = RES["ApiTokenSecret"]["Properties"]
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32       # generated at deploy, never in the repo


def test_api_reads_the_same_buckets_and_table_as_the_processing_function():
    st = serve_local.api_stack()
    api_env = st.function_environment(serve_local.API_FUNCTION)
    process_env = st.function_environment()
    for name in ("INPUT_BUCKET", "OUTPUT_BUCKET", "JOB_TABLE", "UPLOAD_PREFIX", "RESULTS_PREFIX"):
        assert api_env[name] == process_env[name], name
    assert api_env["INPUT_BUCKET"] == st.input_bucket and api_env["OUTPUT_BUCKET"] == st.output_bucket


def test_the_docs_state_what_one_shared_token_means_and_how_to_run_a_stack_per_organisation():
    """Issue 17, item 8: tenancy, stated. The token is per stack; a stack per organisation needs its own
    NamePrefix, which every name (buckets, table, secret) derives from."""
    doc = (api_support.ROOT / "docs" / "upload-api.md").read_text(encoding="utf-8")
    section = doc[doc.index("### Who can see what (one token per stack)"):doc.index("### Browser uploads and CORS")]
    assert "read **any job whose id they know**" in section
    assert "**Separate organisations need separate stacks.**" in section
    assert "--parameter-overrides NamePrefix=" in section
    prefixed = [name for name in ("InputBucket", "OutputBucket", "JobTable", "ApiTokenSecret") if name in RES]
    assert len(prefixed) == 4 and all("${NamePrefix}" in str(RES[name]["Properties"]) for name in prefixed)
