"""LibreOffice (headless) and poppler, as a user's machine has them: the tests that open the workbook in a
real spreadsheet and print it. Missing programs fail the test with what to install; nothing is skipped."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL = "`make test` installs them on a fresh machine (infra/system-deps.sh)"


def program(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"this test needs `{name}` on PATH (apt-get install {package}; {INSTALL})")
    return path


def convert(workbook: Path, out: Path, to: str) -> None:
    """LibreOffice's `--convert-to to` of `workbook` into `out`, with a private profile (other soffice
    processes on the machine don't interfere)."""
    profile = out / "profile"
    done = subprocess.run(  # noqa: S603 - a fixed argv
        [program("soffice", "libreoffice-calc-nogui"), f"-env:UserInstallation=file://{profile}", "--headless",
         "--norestore", "--convert-to", to, "--outdir", str(out), str(workbook)],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr


def poppler(name: str, *args: str) -> str:
    """Run a poppler tool (pdftotext, pdftoppm, pdfinfo); return its stdout."""
    done = subprocess.run([program(name, "poppler-utils"), *args],  # noqa: S603 - a fixed argv
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout
