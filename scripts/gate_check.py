"""Measure the safety gate on the files that crash calamine.

Builds the far-cell workbook and the 1 GB-expanding zip bomb in a temp dir, then runs
`memberseg.safety.inspect_file` on each in a fresh child process and reports the wall
time and the child's peak RSS. Acceptance: rejection in < 2 s and < 300 MB.

    .venv/bin/python scripts/gate_check.py            # hostile files only
    .venv/bin/python scripts/gate_check.py --big-valid  # also a legitimate 1,000,000-row sheet
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from memberseg.errors import InputError
from memberseg.rules import load_rules
from memberseg.safety import inspect_file
path = Path(sys.argv[1])
start = time.perf_counter()
try:
    result = {"kind": inspect_file(path, load_rules().limits, role="orders")}
except InputError as exc:
    result = {"code": exc.code, "message": exc.message}
result["seconds"] = round(time.perf_counter() - start, 3)
result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(result))
"""

TIME_LIMIT_S = 2.0
RSS_LIMIT_MB = 300.0


def measure(path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        return {"crashed": proc.returncode, "stderr": proc.stderr[-2000:]}
    return json.loads(proc.stdout)


def main() -> int:
    big_valid = "--big-valid" in sys.argv
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, Path, bool]] = []
        for name, build in [
            ("far cell (dimension + r)", lambda d: hostile.far_cell_xlsx(d, "dimension")),
            ("far cell (lying dimension)", lambda d: hostile.far_cell_xlsx(d, "lying_dimension")),
            ("zip bomb 1 GB", hostile.big_zip_bomb_xlsx),
        ]:
            start = time.perf_counter()
            path = build(Path(tmp))
            print(f"built {name}: {path.stat().st_size:,} bytes in {time.perf_counter() - start:.2f} s")
            cases.append((name, path, True))
        if big_valid:
            start = time.perf_counter()
            path = hostile.big_valid_sheet_xlsx(Path(tmp))
            took = time.perf_counter() - start
            print(f"built 1,000,000-row valid sheet: {path.stat().st_size:,} bytes in {took:.2f} s")
            cases.append(("valid 1,000,000 rows x 6 cols", path, False))

        for name, path, hostile_file in cases:
            result = measure(path)
            verdict = "rejected" if "code" in result else ("ACCEPTED" if "kind" in result else "CRASHED")
            passed = (
                "seconds" in result
                and result["seconds"] < TIME_LIMIT_S
                and result["peak_rss_mb"] < RSS_LIMIT_MB
                and (("code" in result) == hostile_file)
            )
            ok &= passed or not hostile_file
            print(
                f"{'PASS' if passed else ('FAIL' if hostile_file else 'INFO (over 2 s)')} {name}: {verdict} "
                f"{result.get('code', result.get('kind', ''))} "
                f"in {result.get('seconds')} s, peak RSS {result.get('peak_rss_mb')} MB"
            )
            if "message" in result:
                print(f"     {result['message']}")
            if "stderr" in result:
                print(result["stderr"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
