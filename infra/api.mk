# Upload API + web page targets, included by the top-level Makefile (`include infra/api.mk`).
#
#   make serve          the whole product on http://127.0.0.1:8000 with no AWS account:
#                       moto (S3 + DynamoDB) + the API handler behind a local HTTP API
#                       + the processing function in-process. Ctrl-C stops everything.
#                       SERVE_PORT=8080, SERVE_AS_OF=2026-11-15 (default: today),
#                       MEMBERSEG_TOKEN=<16+ chars> turns the bearer-token auth on.
#   make test-api       API unit + integration + local-stack tests
#   make test-browser   the real-Chromium tests (Debian's /usr/bin/chromium; `apt-get install -y chromium`)

SERVE_PORT  ?= 8000
SERVE_AS_OF ?=
API_PY      ?= .venv/bin/python

.PHONY: serve test-api test-browser

serve: venv
	$(API_PY) infra/serve_local.py --port $(SERVE_PORT) $(if $(SERVE_AS_OF),--as-of $(SERVE_AS_OF),)

test-api: venv
	$(API_PY) -m pytest -q tests/unit/test_api_*.py tests/integration/test_api_*.py tests/e2e/test_api_*.py

test-browser: venv
	$(API_PY) -m pytest -q tests/e2e/test_browser_*.py
