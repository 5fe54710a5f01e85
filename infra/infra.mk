# Serverless targets, included by the top-level Makefile (`include infra/infra.mk`).
# Everything here runs offline except the first install of the tools venvs (PyPI).
#
#   make serverless-deps   .venv with requirements-dev.txt (the top-level `venv` target installs it)
#   make tools             create .tools-venv/{sam,checkov} (aws-sam-cli, cfn-lint, checkov)
#   make lint-infra        sam validate --lint, cfn-lint, checkov, sam build + layer size budget
#   make lock              re-resolve the layer's lock files from its ranges (uv; UPGRADE=1: newest)
#   make test-serverless   integration (moto mock_aws) + e2e (moto server on 127.0.0.1) tests
#   make demo-s3           the upload -> trigger -> outputs flow on an embedded local S3
#   make deploy            sam build + sam deploy --guided (needs an AWS account; not run in CI)

TOOLS_VENV     ?= .tools-venv
SAM            := $(TOOLS_VENV)/sam/bin/sam
CFN_LINT       := $(TOOLS_VENV)/sam/bin/cfn-lint
CHECKOV        := $(TOOLS_VENV)/checkov/bin/checkov
SAM_ENV        := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}
SAM_BUILD_DIR  ?= .aws-sam/build
# uv resolves the layer's lock for another platform and Python (cp313, aarch64) than this machine's.
UV_VERSION     := 0.13.8
UV             := $(TOOLS_VENV)/uv/bin/uv

.PHONY: serverless-deps tools lint-infra sam-validate cfn-lint checkov sam-build test-serverless demo-s3 deploy lock

# the top-level Makefile's `venv` target installs the project and requirements-dev.txt
serverless-deps: venv

## Create the tools venvs (.tools-venv/): the SAM CLI, cfn-lint, checkov.
tools: $(TOOLS_VENV)/sam/.pins $(TOOLS_VENV)/checkov/.pins
$(TOOLS_VENV)/sam/.pins $(TOOLS_VENV)/checkov/.pins: infra/install-tools.sh
	bash infra/install-tools.sh

sam-validate: tools
	$(SAM_ENV) $(SAM) validate --lint --template template.yaml

cfn-lint: tools
	$(CFN_LINT) template.yaml

checkov: tools
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --compact --quiet

# sam build runs layers/memberseg/Makefile (pip --platform manylinux2014_aarch64, no Docker),
# which prints the layer size and fails above 150 MB unzipped. It uses the tools venv's pip (>= 24):
# an older pip checks the lock's Requires-Python against this machine's Python, not the layer's 3.13.
sam-build: tools
	$(SAM_ENV) PIP="$(abspath $(TOOLS_VENV))/sam/bin/python -m pip" \
		$(SAM) build --template template.yaml --build-dir $(SAM_BUILD_DIR)

$(UV):
	rm -rf "$(TOOLS_VENV)/uv"
	python3 -m venv "$(TOOLS_VENV)/uv"
	"$(TOOLS_VENV)/uv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

## Re-resolve the layers' lock files (layers/memberseg/*.lock, layers/duckdb/*.lock) from their ranges; UPGRADE=1 takes the newest.
lock: $(UV)
	$(MAKE) -C layers/memberseg --no-print-directory lock UV="$(abspath $(UV))" UPGRADE="$(UPGRADE)"
	$(MAKE) -C layers/duckdb --no-print-directory lock UV="$(abspath $(UV))" UPGRADE="$(UPGRADE)"

## The infrastructure checks: sam validate --lint, cfn-lint, checkov, sam build with the layer budget.
lint-infra: sam-validate cfn-lint checkov sam-build

## The integration (moto in-process) and e2e (moto server on 127.0.0.1, Chromium) tests.
test-serverless: serverless-deps
	$(PY) -m pytest tests/integration tests/e2e -q

## The main job on the bundled samples through a local S3, the event and the real handler.
demo-s3: serverless-deps
	$(PY) scripts/demo_local.py $(if $(AS_OF),--as-of $(AS_OF),)

## sam build, then sam deploy --guided (needs an AWS account).
deploy: sam-build
	$(SAM_ENV) $(SAM) deploy --guided --template-file $(SAM_BUILD_DIR)/template.yaml
