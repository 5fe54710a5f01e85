#!/usr/bin/env python3
"""`make demo-s3`: the real upload -> trigger -> outputs flow on an embedded local S3.

1. Start moto's server on 127.0.0.1 (a free port; no AWS account, no Docker).
2. Create the buckets, job table, queues and the EventBridge rule from template.yaml.
3. Upload examples/memberships.xlsx and examples/orders.xlsx to uploads/demo-<id>/.
4. Take the events the template's rule delivered (S3 -> EventBridge -> rule) and run
   the Lambda handler (functions/process_upload/app.py) on each, in-process.
5. Download results/demo-<id>/ to ./out/, print the summary, stop the server.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from memberseg.job_protocol import (
    ERROR_NAME,
    PROPERTIES_NAME,
    REPORT_NAME,
    STATE_NAME,
    WORKBOOK_NAME,
    from_item_value,
)

ROOT = Path(__file__).resolve().parent.parent
# what Lambda does for the function (its folder on sys.path), and the local-stack helpers
sys.path[:0] = [str(ROOT / "functions" / "process_upload"), str(ROOT / "infra")]

OUTPUT_NAMES = (WORKBOOK_NAME, PROPERTIES_NAME, STATE_NAME, REPORT_NAME, ERROR_NAME)


def _isolate_from_real_aws(endpoint: str) -> None:
    """Everything goes to the local server with throwaway credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    })


def run_demo(out_dir: Path, *, job_id: str | None = None, as_of: str | None = None, verbose: bool = False,
             memberships: Path = ROOT / "examples" / "memberships.xlsx",
             orders: Path = ROOT / "examples" / "orders.xlsx") -> dict:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)      # no per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        _isolate_from_real_aws(endpoint)
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if verbose else "WARNING")

        import boto3

        import local_aws

        session = boto3.Session(region_name="us-east-1")
        local = local_aws.deploy(session)
        os.environ.update(local.stack.function_environment())
        if not verbose:
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        if as_of:
            os.environ["JOB_AS_OF"] = as_of
        import process_upload_handler as app  # imported after the env is set, as Lambda would
        app.reload_env()

        s3, sqs = session.client("s3"), session.client("sqs")
        job_id = job_id or f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        print(f"local S3 at {endpoint}; job {job_id}")
        outcomes = []
        for path in (memberships, orders):
            key = f"uploads/{job_id}/{path.name}"
            s3.upload_file(str(path), local.stack.input_bucket, key)
            print(f"  uploaded s3://{local.stack.input_bucket}/{key}")
            # what the template's EventBridge rule delivered for it, handed to the function
            for event in local_aws.drain(sqs, local.trigger_queue_url):
                event = local_aws.as_delivered_by_aws(event)
                outcome = app.handler(event, local_aws.LambdaContext())
                outcomes.append(outcome)
                print(f"  function: {event['detail']['object']['key']} -> {outcome['action']}"
                      + (f" ({outcome['reason']})" if outcome.get("reason") else ""))

        status = app.dependencies().jobs.get_status(job_id) or {}
        job_events = local_aws.drain(sqs, local.job_events_queue_url)
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in [*(out_dir / n for n in OUTPUT_NAMES), *out_dir.glob("hubspot_contacts*.csv")]:
            stale.unlink(missing_ok=True)
        prefix = status.get("output_prefix") or f"results/{job_id}/"      # the committed run's folder
        downloaded = []
        for key in status.get("output_keys", []):
            target = out_dir / key[len(prefix):]
            s3.download_file(local.stack.output_bucket, key, str(target))
            downloaded.append(target)
        summary = {
            "job_id": job_id, "status": status.get("status"), "outcomes": [o["action"] for o in outcomes],
            "counts": from_item_value(status.get("counts", {})), "error": from_item_value(status.get("error")),
            "events": [e["detail-type"] for e in job_events],
            "files": [str(p) for p in downloaded],
        }
        _print_summary(summary, out_dir)
        return summary
    finally:
        server.stop()


def _print_summary(summary: dict, out_dir: Path) -> None:
    print(f"\njob {summary['job_id']}: {summary['status']}  (events: {', '.join(summary['events']) or 'none'})")
    counts = summary["counts"] or {}
    if counts:
        print(f"  rows in {counts.get('rows_in')}, customers out {counts.get('customers_out')}, "
              f"consolidated {counts.get('consolidated')}, rejected {counts.get('rejected')}")
        print(f"  orders in {counts.get('orders_rows_in')}, HubSpot rows {counts.get('hubspot_rows')}")
        for name, n in (counts.get("segment_counts") or {}).items():
            print(f"    {name:<22} {n}")
    if summary["error"]:
        print(f"  error: {summary['error'].get('message')}")
    print(f"  outputs in {out_dir}/: {', '.join(Path(f).name for f in summary['files'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--job-id")
    parser.add_argument("--as-of", help="YYYY-MM-DD; default today")
    parser.add_argument("--verbose", action="store_true", help="show the handler's JSON logs")
    args = parser.parse_args(argv)
    summary = run_demo(args.out, job_id=args.job_id, as_of=args.as_of, verbose=args.verbose)
    return 0 if summary["status"] == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
