"""The pre-parse safety gate.

`inspect_file` runs before any spreadsheet library opens an upload. It looks at
the raw bytes only (magic numbers, the zip central directory, bounded streaming
reads of the XML parts) and rejects anything that could crash, hang or exhaust
the memory of the readers: zip bombs, XML entity bombs, sheets whose cells sit
far outside the used area, encrypted workbooks, files in disguise.

It imports neither pandas nor numpy, so a bad file is refused before they load.
Budget: well under 2 s and 300 MB even for hostile files; about 1.5-2 s for a
legitimate 1,000,000-row sheet (210 MB of XML; a third of it inflating). It never raises anything but `InputError`.

  sniff      what the file really is (name, size, magic number, text or OLE)
  container  the zip archive of an .xlsx: sizes, ratios, DTDs, each sheet
  scanner    a pure streaming scan of one sheet's XML (how far its cells reach)
  verdict    every refusal, as a message a person can act on
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..rules import Limits
from . import sniff
from .container import ZipChecks
from .verdict import Verdicts

__all__ = ["inspect_file"]


def _kind(path: Path, limits: Limits, say: Verdicts) -> str:
    sniff.checked_size(path, limits, say)
    ext = path.suffix.lower()
    head = sniff.read_head(path, say)
    container = sniff.container_of(head)
    if container == "zip":
        sniff.refuse_zip_named_otherwise(ext, say)
        ZipChecks(path, limits, say).run()
        return "xlsx"
    if container == "ole":
        return sniff.ole_kind(path, ext, say)
    return sniff.text_kind(path, ext, head, limits, say)


def inspect_file(path: Path, limits: Limits, *, role: str) -> str:
    """Return the detected kind: "xlsx" (also .xlsm), "xls" or "csv". Raise InputError otherwise.

    Runs before any spreadsheet library touches the file; looks only at raw bytes with
    bounded memory and time.
    """
    path = Path(path)
    say = Verdicts(path, role)
    try:
        return _kind(path, limits, say)
    except InputError:
        raise
    except MemoryError:
        raise say.unsafe("needs too much memory to check") from None
    except Exception:  # noqa: BLE001 - the gate must never crash on hostile input
        raise say.corrupt() from None
