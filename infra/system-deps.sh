#!/usr/bin/env bash
# The system programs the test suite drives as a user's machine would:
#   chromium  (Debian's; Playwright drives /usr/bin/chromium, tests/e2e/test_browser_*.py)
#   soffice   (Debian's libreoffice-calc-nogui; opens the workbook, tests/e2e/test_libreoffice_*.py)
#   pdftotext, pdftoppm, pdfinfo  (Debian's poppler-utils; read the workbook LibreOffice printed to PDF,
#             tests/e2e/test_libreoffice_layout.py)
# Missing ones are installed with apt-get when running as root with apt available; otherwise this
# stops at once with one line saying what to install. Idempotent: does nothing when all are present.
set -euo pipefail

# program -> Debian package that provides it
declare -A PACKAGE_OF=(
  [/usr/bin/chromium]=chromium
  [/usr/bin/soffice]=libreoffice-calc-nogui
  [/usr/bin/pdftotext]=poppler-utils
  [/usr/bin/pdftoppm]=poppler-utils
  [/usr/bin/pdfinfo]=poppler-utils
)

missing=()
for program in "${!PACKAGE_OF[@]}"; do
  [[ -x "$program" ]] || missing+=("${PACKAGE_OF[$program]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs: ${missing[*]} (Debian: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi

echo "installing system packages for the test suite: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run rather than fail on its lock.
APT=(apt-get -qq -o DPkg::Lock::Timeout=600)
"${APT[@]}" update
"${APT[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
for program in "${!PACKAGE_OF[@]}"; do
  [[ -x "$program" ]] || { echo "installed ${PACKAGE_OF[$program]} but $program is still missing" >&2; exit 1; }
done
