"""The `memberseg` command line: exit codes, the output folder, error.json and the bad-input corpus.

Run both as a real subprocess (`python -m memberseg`) and in process (`memberseg.cli.main`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import builders
import hostile
import memberseg
import memberseg.consolidate
import memberseg.read
from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, d, membership, order, write_xlsx
from memberseg.cli import main
from platform_files import woo_members, woo_orders

OUTPUTS = {"membership_segments.xlsx", "hubspot_contacts.csv", "hubspot_properties.json", "customer_state.csv.gz",
           "report.json"}
AS_OF = "2026-11-15"


def _memberships(folder: Path) -> Path:
    return write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, [
        membership(1001, "Acme Inc", d("2025-01-10"), d("2026-01-10"), "acme@x.com"),
        membership(1002, "Beta Co", d("2026-01-01"), d("2027-01-01"), "beta@x.com"),
        membership(1001, "Acme Inc", d("2024-01-10"), d("2025-01-10"), "acme@x.com"),
        membership(None, None, "garbage", d("2027-01-01")),
    ])


def _orders(folder: Path) -> Path:
    return write_xlsx(folder / "orders.xlsx", ORDER_HEADERS, [
        order(1001, 1500, d("2025-02-01")), order(1002, 20), order(4242, 7), order(None, 5),
    ])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    return {"dir": folder, "memberships": _memberships(folder), "orders": _orders(folder)}


def _args(memberships: Path, orders: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(out),
            "--as-of", AS_OF, *extra]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memberseg", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def _listing(out: Path) -> set[str]:
    return {p.name for p in out.iterdir()}


def _assert_bad_input(proc_or_code, out: Path, stderr: str, file_name: str) -> dict:
    code = proc_or_code if isinstance(proc_or_code, int) else proc_or_code.returncode
    assert code == 2, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    assert "Traceback" not in stderr
    assert _listing(out) == {"error.json"}, "bad input writes error.json and nothing else"
    error = json.loads((out / "error.json").read_text())
    assert set(error) == {"error"}
    assert {"code", "message", "file"} <= set(error["error"])
    assert error["error"]["code"] and isinstance(error["error"]["code"], str)
    assert error["error"]["message"].strip()
    assert error["error"]["file"] is not None and Path(error["error"]["file"]).name == file_name
    assert file_name in lines[0], f"the message should name the file: {lines[0]!r}"
    return error["error"]


# --- success ----------------------------------------------------------------------------------

def test_subprocess_success_writes_four_files_and_summary(files, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "missing" / "out"  # --out is created if missing
    proc = _cli(*_args(files["memberships"], files["orders"], out))
    assert proc.returncode == 0, proc.stderr
    assert _listing(out) == OUTPUTS
    report = json.loads((out / "report.json").read_text())
    assert report["memberships"] == {"rows_in": 4, "kept": 2, "consolidated": 1, "rejected": 1, "excluded": 0}
    summary = proc.stdout.lower()
    for word in ("rows in", "customers", "consolidated", "rejected"):
        assert word in summary, word
    assert re.search(r"\b4\b", proc.stdout) and re.search(r"\b2\b", proc.stdout)
    for prop in report["segment_counts"]:  # counts per segment
        assert prop in proc.stdout or prop.replace("_", " ") in summary


def test_in_process_success(files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(_args(files["memberships"], files["orders"], out)) == 0
    captured = capsys.readouterr()
    assert "rows in" in captured.out.lower()
    assert _listing(out) == OUTPUTS


def test_progress_per_stage_on_a_terminal(files, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(_args(files["memberships"], files["orders"], tmp_path / "out")) == 0
    err = capsys.readouterr().err.lower()
    for stage in ("reading", "consolidating", "writing"):
        assert stage in err, stage


def test_version() -> None:
    proc = _cli("--version")
    assert proc.returncode == 0
    assert memberseg.__version__ in proc.stdout + proc.stderr


def test_as_of_is_used(files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(_args(files["memberships"], files["orders"], out)) == 0
    assert json.loads((out / "report.json").read_text())["as_of"] == AS_OF


# --- bad input --------------------------------------------------------------------------------

BAD_MEMBERSHIPS = {
    "encrypted": hostile.encrypted_xlsx,
    "csv_renamed_xlsx": hostile.csv_renamed_xlsx,
    "empty_workbook": hostile.empty_workbook_xlsx,
    "zip_bomb": hostile.zip_bomb_xlsx,
    "far_cell": hostile.far_cell_xlsx,
    "far_cell_no_dimension": lambda folder: hostile.far_cell_xlsx(folder, variant="no_dimension"),
    "truncated": hostile.truncated_xlsx,
    "garbage": hostile.garbage_xlsx,
}


@pytest.mark.parametrize("kind", sorted(BAD_MEMBERSHIPS))
def test_bad_memberships_file_in_subprocess(kind: str, files, tmp_path: Path) -> None:
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = BAD_MEMBERSHIPS[kind](bad_dir)
    out = tmp_path / "out"
    proc = _cli(*_args(bad, files["orders"], out))
    _assert_bad_input(proc, out, proc.stderr, bad.name)


@pytest.mark.parametrize("kind", ["zip_bomb", "far_cell", "encrypted", "garbage"])
def test_bad_orders_file_in_process_is_refused(kind: str, files, tmp_path: Path, capsys) -> None:
    # How fast: scripts/refusal_bench.py (make bench), not a timed test.
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = BAD_MEMBERSHIPS[kind](bad_dir)
    out = tmp_path / "out"
    code = main(_args(files["memberships"], bad, out))
    _assert_bad_input(code, out, capsys.readouterr().err, bad.name)


def test_stale_outputs_removed_on_bad_input(files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(_args(files["memberships"], files["orders"], out)) == 0
    assert _listing(out) == OUTPUTS
    (out / "unrelated.txt").write_text("mine")  # the user's own files are left alone
    capsys.readouterr()
    bad = hostile.garbage_xlsx(files["dir"])
    code = main(_args(bad, files["orders"], out))
    err = capsys.readouterr().err
    assert code == 2
    assert _listing(out) == {"error.json", "unrelated.txt"}
    assert "garbage.xlsx" in err


def test_error_json_removed_by_a_later_success(files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(_args(hostile.garbage_xlsx(files["dir"]), files["orders"], out)) == 2
    assert main(_args(files["memberships"], files["orders"], out)) == 0
    assert _listing(out) == OUTPUTS


def test_unsupported_extension(files, tmp_path: Path) -> None:
    bad = files["dir"] / "memberships.pdf"
    bad.write_bytes(files["memberships"].read_bytes())
    out = tmp_path / "out"
    proc = _cli(*_args(bad, files["orders"], out))
    _assert_bad_input(proc, out, proc.stderr, bad.name)


def test_missing_input_file(files, tmp_path: Path) -> None:
    missing = files["dir"] / "nope.xlsx"
    out = tmp_path / "out"
    proc = _cli(*_args(missing, files["orders"], out))
    _assert_bad_input(proc, out, proc.stderr, missing.name)


# Files whose layout the rules chose: a missing column is refused as it always was. Left to recognition
# (profile auto), a file no profile fits is inferred instead (tests/unit/engine/test_infer.py).
FORCED_STANDARD = ("--memberships-profile", "standard", "--orders-profile", "standard")


def test_a_file_no_profile_fits_is_asked_about_not_refused(files, tmp_path: Path) -> None:
    headers = ["Cust ID", "Customer Name", "Created Date", "Expiry Dt", "Contact Email"]
    bad = write_xlsx(files["dir"] / "no_expiry.xlsx", headers,
                     [[1, "Acme", d("2025-01-01"), d("2026-01-01"), "a@x.com"]], sheet="Export")
    out = tmp_path / "out"
    proc = _cli(*_args(bad, files["orders"], out))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert _listing(out) == {"error.json", "proposal.json", "proposal.yaml"}
    assert json.loads((out / "error.json").read_text())["error"]["code"] == "needs_answers"
    questions = {q["id"]: q for q in json.loads((out / "proposal.json").read_text())["questions"]}
    assert questions["memberships.field.expiration_date"]["suggested"] == "Expiry Dt"
    assert questions["memberships.field.expiration_date"]["file"] == "no_expiry.xlsx"


def test_missing_required_column_message(files, tmp_path: Path) -> None:
    headers = ["Cust ID", "Customer Name", "Created Date", "Expiry Dt", "Contact Email"]
    bad = write_xlsx(files["dir"] / "no_expiry.xlsx", headers,
                     [[1, "Acme", d("2025-01-01"), d("2026-01-01"), "a@x.com"]], sheet="Export")
    out = tmp_path / "out"
    # the rules name the layout (no profile is inferred for a file the rules chose the layout of)
    proc = _cli(*_args(bad, files["orders"], out, *FORCED_STANDARD))
    error = _assert_bad_input(proc, out, proc.stderr, bad.name)
    message = error["message"]
    assert "no_expiry.xlsx" in message
    assert "Export" in message                                    # the sheet
    assert re.search(r"expiration[_ ]date", message, re.I)        # the missing field
    for alias in ("Expiry Date", "Expires", "End Date", "Membership Expiration"):  # its aliases
        assert alias in message, alias
    for header in ("Cust ID", "Customer Name", "Created Date", "Contact Email"):  # the headers found
        assert header in message, header
    assert "Expiry Dt" in message                                 # the closest one
    assert proc.stderr.count("Expiry Dt") >= 1


def test_missing_required_column_in_orders_csv(files, tmp_path: Path) -> None:
    bad = builders.write_csv(files["dir"] / "orders.csv", ["Sold-To Party", "Order Date", "Totl Valu"],
                             [[1001, "2025-01-01", 10]])
    out = tmp_path / "out"
    proc = _cli(*_args(files["memberships"], bad, out, *FORCED_STANDARD))
    error = _assert_bad_input(proc, out, proc.stderr, bad.name)
    assert "Total Value" in error["message"] and "Totl Valu" in error["message"]


@pytest.mark.parametrize("value", ["seven", -3])
def test_invalid_rules_file_names_the_key(value, files, tmp_path: Path) -> None:
    data = yaml.safe_load((Path(memberseg.__file__).parent / "default_rules.yaml").read_text())
    data["consolidation"]["renewal_grace_days"] = value
    rules = tmp_path / "my_rules.yaml"
    rules.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    proc = _cli(*_args(files["memberships"], files["orders"], out, "--rules", str(rules)))
    error = _assert_bad_input(proc, out, proc.stderr, rules.name)
    assert "consolidation.renewal_grace_days" in error["message"]
    assert "consolidation.renewal_grace_days" in proc.stderr


def test_unknown_rules_key_is_named(files, tmp_path: Path) -> None:
    data = yaml.safe_load((Path(memberseg.__file__).parent / "default_rules.yaml").read_text())
    data["consolidation"]["renewal_grace_dayz"] = 3
    rules = tmp_path / "typo.yaml"
    rules.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    code = main(_args(files["memberships"], files["orders"], out, "--rules", str(rules)))
    assert code == 2
    assert "renewal_grace_dayz" in json.loads((out / "error.json").read_text())["error"]["message"]


def _alias_bomb(path: Path, size: int) -> Path:
    """A billion-laughs YAML rules file padded to `size` bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "\n".join(lines) + "\nversion: 1\nthresholds:\n  big: *a8\n"
    path.write_text(text + "#" * (size - len(text) - 1) + "\n")
    assert path.stat().st_size == size
    return path


def test_a_120_kb_alias_bomb_is_refused_by_rules_check_before_parsing(tmp_path, capsys, monkeypatch) -> None:
    from memberseg.rules import bounded
    bomb = _alias_bomb(tmp_path / "bomb.yaml", 120 * 1024)
    monkeypatch.setattr(bounded, "Forked", None)            # refused from its size: nothing is parsed
    assert main(["rules", "check", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert str(bomb) in err and "122,880 bytes" in err and "at most 64 KB" in err
    assert main(["rules", "show", "--rules", str(bomb)]) == 2
    assert main(["profiles", "--rules", str(bomb)]) == 2


def test_a_120_kb_alias_bomb_stops_run_with_exit_2_and_error_json(files, tmp_path: Path) -> None:
    bomb = _alias_bomb(tmp_path / "bomb.yaml", 120 * 1024)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")                   # a stale output: removed
    proc = _cli(*_args(files["memberships"], files["orders"], out, "--rules", str(bomb)))
    error = _assert_bad_input(proc, out, proc.stderr, bomb.name)
    assert error["code"] == "rules_too_large" and "at most 64 KB" in error["message"]


def test_a_rules_file_within_the_size_cap_has_a_time_bound(files, tmp_path: Path, capsys, monkeypatch) -> None:
    from memberseg.rules import bounded

    def slow(path, overlay, profile_files, report):                     # stands in for a file that takes forever
        import time
        time.sleep(30)

    monkeypatch.setattr(bounded, "_load_in_worker", slow)
    monkeypatch.setattr(bounded, "RULES_PARSE_TIMEOUT_S", 0.5)
    rules = _alias_bomb(tmp_path / "small_bomb.yaml", 4 * 1024)
    out = tmp_path / "out"
    assert main(_args(files["memberships"], files["orders"], out, "--rules", str(rules))) == 2
    err = capsys.readouterr().err
    assert str(rules) in err and "could not be checked within 0.5 s" in err
    assert json.loads((out / "error.json").read_text())["error"]["file"] == rules.name
    assert _listing(out) == {"error.json"}
    assert main(["rules", "check", str(rules)]) == 2
    assert "could not be checked within 0.5 s" in capsys.readouterr().err


def test_a_small_alias_bomb_is_answered_at_once(tmp_path, capsys) -> None:
    bomb = _alias_bomb(tmp_path / "small_bomb.yaml", 4 * 1024)
    assert main(["rules", "check", str(bomb)]) == 2
    assert "small_bomb.yaml" in capsys.readouterr().err


# --- tricky but valid -------------------------------------------------------------------------

def test_header_under_title_rows(files, tmp_path: Path) -> None:
    src = hostile.title_rows_xlsx(files["dir"], rows=5)
    out = tmp_path / "out"
    proc = _cli(*_args(src, files["orders"], out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["inputs"]["memberships"]["header_row"] == 3
    assert report["memberships"]["rows_in"] == 5 and report["memberships"]["kept"] == 5


def test_data_on_second_sheet(files, tmp_path: Path) -> None:
    src = hostile.second_sheet_xlsx(files["dir"], rows=5)
    out = tmp_path / "out"
    proc = _cli(*_args(src, files["orders"], out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["inputs"]["memberships"]["sheet"] == "Data"
    assert report["memberships"]["rows_in"] == 5


def test_data_on_second_sheet_after_empty_sheet(files, tmp_path: Path) -> None:
    src = hostile.second_sheet_xlsx(files["dir"], rows=3, notes=False)
    out = tmp_path / "out"
    assert main(_args(src, files["orders"], out)) == 0
    assert json.loads((out / "report.json").read_text())["inputs"]["memberships"]["sheet"] == "Data"


def test_formula_injection_is_neutralised(files, tmp_path: Path) -> None:
    src = hostile.formula_injection_memberships_xlsx(files["dir"])
    out = tmp_path / "out"
    proc = _cli(*_args(src, files["orders"], out))
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out / "membership_segments.xlsx") as zf:
        text = ""
        for name in zf.namelist():
            if name.endswith(".xml"):
                xml = zf.read(name).decode()
                text += xml
                if name.startswith("xl/worksheets/"):
                    assert not re.search(r"<(\w+:)?f[ >/]", xml), name
    assert "HYPERLINK" in text  # the payload is kept, as text
    import csv
    with open(out / "hubspot_contacts.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:]:
        for value in row:
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            assert not value.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", value), value
    # Every payload email starts with = + - @ or has no valid form, so it is invalid: nobody is exported,
    # and all six customers are listed in Needs Attention instead.
    report = json.loads((out / "report.json").read_text())
    assert len(rows) == 1 and report["hubspot"]["rows"] == 0
    assert report["memberships"]["kept"] == 6 and report["hubspot"]["left_out"] == 6


# --- faults -----------------------------------------------------------------------------------

def test_internal_fault_exits_1_without_outputs(files, tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "out"
    assert main(_args(files["memberships"], files["orders"], out)) == 0  # stale outputs to be removed
    capsys.readouterr()

    def boom(*args, **kwargs):
        raise RuntimeError("synthetic fault")
    monkeypatch.setattr(memberseg.consolidate, "consolidate", boom)
    code = main(_args(files["memberships"], files["orders"], out))
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and err.strip()
    assert not (_listing(out) & OUTPUTS), "no partial or stale outputs after an internal fault"
    assert not [p for p in out.iterdir() if p.name.startswith(".memberseg")], "staging folder left behind"


def test_reader_abort_becomes_bad_input(files, tmp_path: Path, monkeypatch, capsys) -> None:
    def abort(*args, **kwargs):
        import faulthandler
        faulthandler.disable()  # keep pytest's crash dump out of the log; the abort is intended
        os.abort()
    monkeypatch.setattr(memberseg.read, "read_table", abort)
    out = tmp_path / "out"
    code = main(_args(files["memberships"], files["orders"], out))
    error = _assert_bad_input(code, out, capsys.readouterr().err, files["memberships"].name)
    assert error["code"] == "reader_crashed"


def test_bad_as_of_is_a_usage_error(files, tmp_path: Path) -> None:
    proc = _cli("run", "--memberships", str(files["memberships"]), "--orders", str(files["orders"]),
                "--out", str(tmp_path / "out"), "--as-of", "15/11/2026")
    assert proc.returncode == 2
    assert not (tmp_path / "out").exists() or not (_listing(tmp_path / "out") & OUTPUTS)


def test_as_of_defaults_to_today(files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", "--memberships", str(files["memberships"]), "--orders", str(files["orders"]),
                 "--out", str(out)]) == 0
    as_of = dt.date.fromisoformat(json.loads((out / "report.json").read_text())["as_of"])
    assert abs((as_of - dt.datetime.now(dt.timezone.utc).date()).days) <= 1


def _imported_by(proc: subprocess.CompletedProcess) -> set[str]:
    """Top-level modules that any process of the run imported (-X importtime reaches forked workers too)."""
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
            if line.startswith("import time:")}


@pytest.mark.parametrize("role", ["memberships", "orders"])
def test_a_bad_file_is_refused_before_pandas_and_numpy_are_imported(role: str, files, tmp_path: Path) -> None:
    bad = hostile.big_zip_bomb_xlsx(tmp_path)
    memberships, orders = (bad, files["orders"]) if role == "memberships" else (files["memberships"], bad)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "memberseg",
                           *_args(memberships, orders, tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert bad.name in proc.stderr
    assert not {"pandas", "numpy", "python_calamine"} & _imported_by(proc)


def test_wrong_headers_in_both_files_are_refused_before_pandas_and_numpy_are_imported(tmp_path: Path) -> None:
    members = write_xlsx(tmp_path / "members.xlsx", ["Cust ID", "Customer Name", "Created Date"], [["1", "A", "x"]])
    orders = write_xlsx(tmp_path / "orders.xlsx", ["Sold-To Party", "Totl"], [["1", "5"]])
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "memberseg",
                           *_args(members, orders, tmp_path / "out", *FORCED_STANDARD)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "members.xlsx" in proc.stderr and "orders.xlsx" in proc.stderr
    assert not {"pandas", "numpy", "python_calamine"} & _imported_by(proc)


def test_a_good_run_does_import_pandas(files, tmp_path: Path) -> None:  # the check above can see the imports
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "memberseg",
                           *_args(files["memberships"], files["orders"], tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"pandas", "numpy"} <= _imported_by(proc)


# --- The command line ------------------------------------------------------------------------------

def test_cli_profiles_and_rules_commands(tmp_path, capsys):
    from memberseg.cli import main

    assert main(["profiles"]) == 0
    listing = capsys.readouterr().out
    for name in ("standard", "woocommerce_memberships", "shopify_orders", "sap_va05_de", "wild_apricot_contacts"):
        assert name in listing
    lines = listing.splitlines()        # one line per profile, each saying where it came from
    assert lines[0].split() == ["profile", "reads", "from", "format"]
    assert lines[1].split()[:3] == ["standard", "memberships+orders", "packaged"]
    assert all(line.split()[2] == "packaged" for line in lines[1:])
    assert main(["rules", "show", "--profile", "stripe_subscriptions"]) == 0
    shown = capsys.readouterr().out
    assert "renewing_when" in shown and "base_currency: auto" in shown
    good = tmp_path / "good.yaml"
    good.write_text("status: {expiring_soon_days: 45}\n")
    assert main(["rules", "check", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("status: {expiring_soon_dayz: 45}\n")
    assert main(["rules", "check", str(bad)]) == 2
    assert "status.expiring_soon_dayz" in capsys.readouterr().err


def test_cli_forced_profile_and_summary_shows_the_profiles(tmp_path, capsys):
    from memberseg.cli import main

    members, orders = woo_members(tmp_path / "members.csv"), woo_orders(tmp_path / "orders.csv")
    out = tmp_path / "out"
    code = main(["run", "--memberships", str(members), "--orders", str(orders), "--out", str(out),
                 "--as-of", "2026-11-15", "--memberships-profile", "woocommerce_memberships"])
    assert code == 0
    summary = capsys.readouterr().out
    assert "profile woocommerce_memberships (forced)" in summary
    assert "profile woocommerce_analytics_orders (by Order #" in summary
    assert "excluded" in summary and "joined on customer_name" in summary
    code = main(["run", "--memberships", str(members), "--orders", str(orders), "--out", str(out),
                 "--as-of", "2026-11-15", "--orders-profile", "shopify_orders"])
    assert code == 2


# --- memory kills -----------------------------------------------------------------------------

def _kill_orders_reader(monkeypatch, then=None) -> None:
    """The orders reader dies of SIGKILL, as the kernel's out-of-memory killer stops it (`then` runs first)."""
    import signal

    real = memberseg.read.read_table

    def killed(path, *args, role=None, **kwargs):
        if role == "orders":
            if then is not None:
                then()
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, *args, role=role, **kwargs)
    monkeypatch.setattr(memberseg.read, "read_table", killed)


def _oom_kills(monkeypatch, *, rising: bool) -> None:
    """The kernel's out-of-memory kill count, as each process reads it: rising, or never moving."""
    import itertools

    import memberseg.isolation

    counter = itertools.count()
    monkeypatch.setattr(memberseg.isolation, "oom_kill_count", lambda: next(counter) if rising else 7)


def test_reader_killed_for_memory_is_too_large_for_memory(files, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    _oom_kills(monkeypatch, rising=True)
    _kill_orders_reader(monkeypatch)
    out = tmp_path / "out"
    code = main(_args(files["memberships"], files["orders"], out))
    error = _assert_bad_input(code, out, capsys.readouterr().err, files["orders"].name)
    size = files["orders"].stat().st_size
    assert error["code"] == "too_large_for_memory"
    assert f"({size / 1e3:,.1f} KB)" in error["message"], "the file's size"
    assert "the function's 3,008 MB" in error["message"] and "FunctionMemoryMB" in error["message"]
    assert "damaged or" not in error["message"] and "split" not in error["message"].lower()
    assert error["details"] == {"memory_bytes": 3008 * 2**20}


def test_a_sigkill_without_an_out_of_memory_kill_is_not_blamed_on_memory(files, tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    _oom_kills(monkeypatch, rising=False)
    _kill_orders_reader(monkeypatch)
    out = tmp_path / "out"
    code = main(_args(files["memberships"], files["orders"], out))
    error = _assert_bad_input(code, out, capsys.readouterr().err, files["orders"].name)
    assert error["code"] == "reader_crashed" and "SIGKILL" in error["message"]


def _gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for a reaper counts: it holds nothing open)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def test_a_killed_worker_leaves_no_orphan_reader_holding_the_pipe(files, tmp_path: Path, monkeypatch) -> None:
    """The worker is killed while its orders reader (a grandchild) runs: the run ends with the memory error,
    not the timeout, and the reader is stopped with it rather than left running with the result pipe open."""
    import time

    from memberseg.runner import run_job

    reader_pid = tmp_path / "reader.pid"

    def kill_the_worker_and_keep_reading() -> None:
        import signal

        reader_pid.write_text(str(os.getpid()))
        os.kill(os.getppid(), signal.SIGKILL)   # the worker, as the out-of-memory killer would pick it
        time.sleep(600)                         # the reader goes on, holding its copy of the worker's pipe
    _oom_kills(monkeypatch, rising=True)
    _kill_orders_reader(monkeypatch, then=kill_the_worker_and_keep_reading)
    out = tmp_path / "out"
    outcome = run_job(files["memberships"], files["orders"], out, as_of=dt.date(2026, 11, 15), deadline_s=60)
    assert outcome.exit_code == 2 and outcome.error is not None
    assert outcome.error["error"]["code"] == "too_large_for_memory", outcome.error   # not the 60 s timeout
    pid = int(reader_pid.read_text())
    for _ in range(100):        # SIGKILL was sent before run_job returned; its delivery takes a moment
        if _gone(pid):
            break
        time.sleep(0.05)
    assert _gone(pid), "the orders reader outlived its killed worker"
