#!/usr/bin/env bash
# Create .tools-venv with the infrastructure tooling: two venvs, because
# aws-sam-cli and checkov pin their own (mutually conflicting) boto3/botocore,
# and both conflict with the project's .venv.
#   .tools-venv/sam/bin/{sam,cfn-lint}
#   .tools-venv/checkov/bin/checkov
# Idempotent: re-running with the same pins does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${TOOLS_VENV:-.tools-venv}
PY=${TOOLS_PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

SAM_PINS=("aws-sam-cli==1.170.0" "cfn-lint==1.58.0")
CHECKOV_PINS=("checkov==3.3.30")

make_venv() {  # name pins...
  local name=$1; shift
  local venv="$ROOT/$name" want
  want="$(printf '%s\n' "$@")"
  if [[ -f "$venv/.pins" && "$(cat "$venv/.pins")" == "$want" ]]; then
    echo "tools venv up to date: $venv"
    return
  fi
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade "pip>=24,<27"
  "$venv/bin/python" -m pip install --quiet "$@"
  printf '%s' "$want" > "$venv/.pins"
}

make_venv sam "${SAM_PINS[@]}"
make_venv checkov "${CHECKOV_PINS[@]}"

echo "sam:      $(SAM_CLI_TELEMETRY=0 "$ROOT/sam/bin/sam" --version)"
echo "cfn-lint: $("$ROOT/sam/bin/cfn-lint" --version)"
echo "checkov:  $("$ROOT/checkov/bin/checkov" --version)"
