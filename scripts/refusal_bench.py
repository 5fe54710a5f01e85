"""How fast the command line refuses a bad file, and whether pandas or numpy were imported first.

Each case runs `python -m memberseg run` in a fresh interpreter, as a user would, with one bad
input beside a good one. The bound is 2 s, and the refusal must come before the heavy imports:
`-X importtime` lists every module the process imported.

    .venv/bin/python scripts/refusal_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402

BOUND_S = 2.0
HEAVY = ("pandas", "numpy", "python_calamine")

CASES: list[tuple[str, Callable[[Path], Path]]] = [
    ("zip with 100,000 entries", lambda d: hostile.too_many_entries_xlsx(d, 100_000)),
    ("zip bomb (1 GB unpacked)", hostile.big_zip_bomb_xlsx),
    ("one cell at XFD1048576", hostile.far_cell_xlsx),
    ("password-protected workbook", hostile.encrypted_xlsx),
    ("CSV text named .xlsx", hostile.csv_renamed_xlsx),
    ("unsupported extension (.pdf)", lambda d: _write(d / "memberships.pdf", b"%PDF-1.7\n")),
    ("empty file", hostile.empty_file),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def refuse(bad: Path, good: Path, out: Path) -> tuple[float, int, list[str]]:
    """Wall time, exit code and the heavy modules imported, for one CLI run."""
    cmd = [sys.executable, "-X", "importtime", "-m", "memberseg", "run", "--memberships", str(bad),
           "--orders", str(good), "--out", str(out), "--as-of", "2026-11-15"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    took = time.perf_counter() - started
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    return took, proc.returncode, sorted(m for m in HEAVY if m in imported)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "good").mkdir()
        good = hostile.valid_memberships_xlsx(work / "good", name="orders.xlsx")
        print(f"{'case':32} {'median s':>9} {'exit':>5}  heavy imports before the refusal")
        for name, build in CASES:
            case_dir = work / name.replace(" ", "_").replace("/", "_")
            case_dir.mkdir()
            bad = build(case_dir)
            runs = [refuse(bad, good, case_dir / "out") for _ in range(args.runs)]
            median = statistics.median(t for t, _, _ in runs)
            codes = {code for _, code, _ in runs}
            heavy = sorted({m for _, _, mods in runs for m in mods})
            passed = median < BOUND_S and codes == {2} and not heavy
            ok &= passed
            print(f"{name:32} {median:9.3f} {'/'.join(map(str, sorted(codes))):>5}  "
                  f"{', '.join(heavy) or 'none'}{'' if passed else '   <-- FAIL'}")
    print(f"bound: {BOUND_S} s, exit 2, no {', '.join(HEAVY)} import; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
