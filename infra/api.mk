# Upload API + web page targets, included by the top-level Makefile (`include infra/api.mk`).
#
#   make serve          the whole product on http://127.0.0.1:8000 with no AWS account:
#                       moto (S3 + DynamoDB) + the API handler behind a local HTTP API
#                       + the processing function in-process. Ctrl-C stops everything.
#                       SERVE_PORT=8080, AS_OF=2026-11-15 (the top-level Makefile's: the page's as-of picker
#                       starts there, so the samples give make demo's numbers; AS_OF= for today),
#                       MEMBERSEG_TOKEN=<16+ chars> turns the bearer-token auth on.
#   make test-api       API unit + integration + local-stack tests
#   make test-browser   the real-Chromium tests (Debian's /usr/bin/chromium; `apt-get install -y chromium`)

SERVE_PORT  ?= 8000

.PHONY: serve test-api test-browser

## The upload page and API on http://127.0.0.1:$(SERVE_PORT)/ with a local S3 and job table (Ctrl-C stops).
serve: venv
	$(PY) infra/serve_local.py --port $(SERVE_PORT) $(if $(AS_OF),--as-of $(AS_OF),)

## The API's unit, integration and local-stack tests.
test-api: venv
	$(PY) -m pytest -q tests/unit/api tests/integration/test_api_*.py tests/e2e/test_api_*.py

## The real-Chromium tests of the upload page.
test-browser: venv
	$(PY) -m pytest -q tests/e2e/test_browser_*.py
