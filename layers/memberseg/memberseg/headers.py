"""Find each file's header row and profile, from its first rows only.

`check_headers` runs on both files right after the safety gate and before either is parsed in
full, so one error can list every file's header problems at once. It needs only the first
`inputs.header_search_rows` rows of each sheet: `memberseg.header_check` reads those without parsing
the rest. `memberseg.read` uses the same matching on the full parse.

No pandas or numpy here: a file with the wrong headers is refused before they load.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .rules import STANDARD_PROFILE, Profile, RoleSpec, Rules, normalize_header

CSV_SAMPLE_BYTES = 64 * 1024


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without BOM), falling back to cp1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first_lines = sample.splitlines()[:20]
        counts = {d: sum(line.count(d) for line in first_lines) for d in ",;\t"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def describe_file(role: str, file: str, sheet: str | None) -> str:
    return f"The {role} file '{file}'" + (f" (sheet '{sheet}')" if sheet else "")


def match_header_row(cells: list[object], spec: RoleSpec) -> dict[str, int]:
    """Map fields to column positions for one candidate header row.

    Aliases are a priority list: the first alias present in the row wins (its leftmost column).
    """
    first_position: dict[str, int] = {}
    for position, cell in enumerate(cells):
        text = normalize_header(cell) if cell not in (None, "") else ""
        if text and text not in first_position:
            first_position[text] = position
    found: dict[str, int] = {}
    for name, field_spec in spec.fields.items():
        for alias in field_spec.aliases:
            at = first_position.get(normalize_header(alias))
            if at is not None:
                found[name] = at
                break
    return found


def _signature_found(cells: list[object], spec: RoleSpec) -> list[str]:
    present = {normalize_header(cell) for cell in cells if cell not in (None, "")}
    return [header for header in spec.signature if normalize_header(header) in present]


def required_fields(spec: RoleSpec) -> list[str]:
    return [name for name, field_spec in spec.fields.items() if field_spec.required]


@dataclass
class HeaderCandidate:
    sheet: str | None
    row_index: int
    cells: list[object]
    found: dict[str, int]
    profile: Profile | None = None
    spec: RoleSpec | None = None
    signature: list[str] = field(default_factory=list)

    def lacks(self) -> list[str]:
        """Required fields and signature headers this row does not have."""
        assert self.spec is not None  # noqa: S101 - always set by find_header
        missing = [name for name in required_fields(self.spec) if name not in self.found]
        return missing + [header for header in self.spec.signature if header not in self.signature]

    def score(self) -> float:
        assert self.spec is not None  # noqa: S101
        wanted = len(required_fields(self.spec)) + len(self.spec.signature)
        return (wanted - len(self.lacks())) / max(wanted, 1)


Choice = tuple[Profile, RoleSpec]


def candidate_profiles(rules: Rules, role: str, forced: str | None = None) -> list[Choice]:
    """The profiles that may read a file of this role: the forced one, or every one describing the role."""
    name = forced or getattr(rules.inputs, role).profile
    if name != "auto":
        if name not in rules.catalog:
            raise InputError("unknown_profile", f"There is no profile named '{name}'. Known profiles: "
                             f"{', '.join(rules.catalog)} (see `memberseg profiles`).")
        profile = rules.catalog[name]
        return [(profile, rules.spec_for(profile, role))]
    return [(profile, rules.spec_for(profile, role)) for profile in rules.profiles_for(role)]


def _fits_at(cells: list[object], choices: list[Choice], sheet: str | None, index: int) -> list[HeaderCandidate]:
    candidates = []
    for profile, spec in choices:
        candidates.append(HeaderCandidate(sheet, index, cells, match_header_row(cells, spec), profile, spec,
                                     _signature_found(cells, spec)))
    return candidates


def find_header(sheets: Iterable[tuple[str | None, list[list[Any]]]], choices: list[Choice],
                 search_rows: int) -> tuple[HeaderCandidate | None, dict[str, HeaderCandidate]]:
    """Return (the header row of the best-fitting profile, or None; each profile's best partial row).

    A profile fits a row when the row holds its required fields and its whole signature; the first
    row where any profile fits is the header, and the profile with the most signature headers wins
    there. `sheets` is consumed lazily, so later sheets are not parsed once a header is found.
    """
    best: dict[str, HeaderCandidate] = {}
    for sheet, rows in sheets:
        for index, cells in enumerate(rows[:search_rows]):
            candidates = _fits_at(cells, choices, sheet, index)
            fitting = [candidate for candidate in candidates if not candidate.lacks()]
            if fitting:
                # The most signature headers wins; among equals, the standard layout, then the most fields.
                return max(fitting, key=lambda c: (len(c.signature), c.profile is not None and
                                                   c.profile.name == STANDARD_PROFILE, len(c.found))), best
            if not any(cell not in (None, "") for cell in cells):
                continue
            for candidate in candidates:
                assert candidate.profile is not None  # noqa: S101
                previous = best.get(candidate.profile.name)
                if previous is None or candidate.score() > previous.score():
                    best[candidate.profile.name] = candidate
    return None, best


def _words(text: str) -> set[str]:
    """Word stems (first 4 letters) of a header: 'Expiry Dt' and 'Expiration Date' share 'expi'."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))
    return {word[:4] for word in re.split(r"[^0-9a-z]+", spaced.casefold()) if word}


def closest_header(field_name: str, aliases: list[str], headers: list[str], taken: set[str]) -> str | None:
    """The found header most like the field's aliases, among those no other field took and that share a word."""
    stems = set().union(*(_words(alias) for alias in aliases), _words(field_name))
    free = [header for header in headers if header not in taken and _words(header) & stems]
    by_normal = {normalize_header(header): header for header in free}
    if not by_normal:
        return None
    for alias in aliases:
        close = difflib.get_close_matches(normalize_header(alias), list(by_normal), n=1, cutoff=0.6)
        if close:
            return by_normal[close[0]]
    close = difflib.get_close_matches(normalize_header(aliases[0]), list(by_normal), n=1, cutoff=0.0)
    return by_normal[close[0]] if close else None


def alias_key(role: str, profile: Profile, field_name: str) -> str:
    """The rules key that would add an alias for this field of this profile."""
    if profile.name == STANDARD_PROFILE or not (getattr(profile, role) and getattr(profile, role).fields):
        return f"inputs.{role}.fields.{field_name}.aliases"
    return f"profiles.{profile.name}.{role}.fields.{field_name}.aliases"


def missing_column_error(role: str, file: str, best: dict[str, HeaderCandidate]) -> InputError:
    if not best:
        return InputError("empty_file", f"The {role} file '{file}' has no data: every sheet is empty.", file=file)
    ranked = sorted(best.values(), key=lambda c: -c.score())
    closest = ranked[0]
    main = best.get(STANDARD_PROFILE, closest)
    assert main.spec is not None and main.profile is not None  # noqa: S101
    headers = [str(cell).strip() for cell in main.cells if cell not in (None, "") and str(cell).strip()]
    missing = [name for name in required_fields(main.spec) if name not in main.found]
    if not missing:  # the standard fields are there but the profile's signature is not (a forced profile)
        missing = [header for header in main.lacks()]
        message = (f"{describe_file(role, file, main.sheet)} does not look like a {main.profile.title} export: "
                   f"it lacks the header(s) {', '.join(missing)}. Headers found in row {main.row_index + 1}: "
                   f"{', '.join(headers) if headers else '(none)'}.")
        return InputError("missing_column", message, file=file, sheet=main.sheet, row=main.row_index + 1,
                          details={"missing": missing, "found": headers, "profile": main.profile.name})
    field_name = missing[0]
    aliases = main.spec.fields[field_name].aliases
    taken = {headers_at(main.cells, position) for position in main.found.values()}
    close = closest_header(field_name, aliases, headers, taken)
    closest_text = f" The closest header is '{close}'." if close else ""
    also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    message = (
        f"{describe_file(role, file, main.sheet)} has no {field_name} column{also}. "
        f"Accepted headers: {', '.join(aliases)}. Headers found in row {main.row_index + 1}: "
        f"{', '.join(headers) if headers else '(none)'}.{closest_text}"
        f" To accept another header, add it to {alias_key(role, main.profile, field_name)} in a rules file."
    )
    details: dict = {"missing": missing, "found": headers, "profile": main.profile.name}
    if closest is not main and closest.profile is not None:
        lacks = closest.lacks()
        message += (f" The closest profile is '{closest.profile.name}' ({closest.profile.title}), "
                    f"which lacks: {', '.join(lacks)}.")
        details["closest_profile"] = {"name": closest.profile.name, "lacks": lacks}
    return InputError("missing_column", message, file=file, sheet=main.sheet, row=main.row_index + 1,
                      column=field_name, details=details)


def headers_at(cells: list[object], position: int) -> str:
    cell = cells[position] if position < len(cells) else ""
    return str(cell).strip() if cell not in (None, "") else ""


def both_files_error(first: InputError, second: InputError) -> InputError:
    """One error that lists the problems of both input files."""
    return InputError(first.code, f"{first.message} Also: {second.message}", file=first.file, sheet=first.sheet,
                      row=first.row, column=first.column,
                      details={**first.details, "problems": [first.to_dict()["error"], second.to_dict()["error"]]})
