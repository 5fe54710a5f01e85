"""What hubspot_import.json keeps of each row error HubSpot lists, and the stderr line that totals them.

The entries come from GET /crm/v3/imports/{id}/errors items (PublicImportError, hubspot-api.md B4);
the stderr line is `row_error_summary`, printed by `memberseg push` when it exits 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memberseg.job_protocol import HUBSPOT_IMPORT_NAME
from memberseg.push.steps import (
    exit_code_for,
    row_error_entry,
    row_error_summary,
    row_error_text,
    summary_lines,
    write_result,
)

HEADER = ["email", "firstname", "order_value_tier"]


def item(line: int = 4, error_type: str = "INVALID_EMAIL", **optional) -> dict:
    """A PublicImportError with its required fields, plus any optional ones."""
    return {"id": f"e{line}", "createdAt": 1764547200000, "errorType": error_type,
            "sourceData": {"rowData": ["x"], "lineNumber": line, "fileId": 7, "containsEncryptedProperties": False},
            **optional}


ODD_MESSAGES = [
    "  leading and trailing spaces, kept  ",
    "Ungültiger Wert «Platnum» für order_value_tier — 値が無効です 🚫",
    'quotes \' and " and a backslash \\ and a tab\tand a newline\nsecond line',
    "long: " + "x" * 5000,
    "",
]


@pytest.mark.parametrize("message", ODD_MESSAGES)
def test_hubspots_error_message_is_kept_verbatim(message: str, tmp_path: Path) -> None:
    entry = row_error_entry(item(errorMessage=message, invalidValue="bad@"), HEADER)

    assert entry["errorMessage"] == message
    # and it survives the file: written and read back, not a character changed
    write_result(tmp_path, {"imports": [{"file": "hubspot_contacts.csv", "errors": [entry]}]})
    saved = json.loads((tmp_path / HUBSPOT_IMPORT_NAME).read_text(encoding="utf-8"))
    assert saved["imports"][0]["errors"][0]["errorMessage"] == message


def test_the_invalid_value_and_its_column_have_fields_of_their_own() -> None:
    entry = row_error_entry(item(9, "INVALID_ENUMERATION_OPTION", errorMessage="not an option",
                                 invalidValue="Platnum ", knownColumnNumber=2), HEADER)

    assert entry == {"line": 9, "errorType": "INVALID_ENUMERATION_OPTION", "errorMessage": "not an option",
                     "invalidValue": "Platnum ", "column": "order_value_tier", "knownColumnNumber": 2}


def test_missing_optional_fields_are_null_not_invented() -> None:
    entry = row_error_entry(item(5, "MANY_ERRORS_IN_ROW"), HEADER)

    assert entry == {"line": 5, "errorType": "MANY_ERRORS_IN_ROW", "errorMessage": None, "invalidValue": None,
                     "column": None, "knownColumnNumber": None}
    assert row_error_text(entry) == "MANY_ERRORS_IN_ROW"


@pytest.mark.parametrize("number, header, column", [
    (0, HEADER, "email"),
    (3, HEADER, None),          # past the header: HubSpot's number is kept, no name guessed
    (-1, HEADER, None),
    (1, None, None),            # the CSV was not at hand
])
def test_the_column_is_named_only_when_the_csv_header_has_it(number, header, column) -> None:
    entry = row_error_entry(item(knownColumnNumber=number), header)
    assert (entry["column"], entry["knownColumnNumber"]) == (column, number)


def test_a_value_only_given_for_display_is_kept_and_a_boolean_is_no_column_number() -> None:
    entry = row_error_entry(item(invalidValueToDisplay="••@x", knownColumnNumber=True), HEADER)
    assert (entry["invalidValue"], entry["column"], entry["knownColumnNumber"]) == ("••@x", None, None)


def test_a_missing_error_type_is_unknown() -> None:
    raw = item()
    del raw["errorType"]
    assert row_error_entry(raw)["errorType"] == "UNKNOWN"


def test_the_page_text_leads_with_hubspots_message_and_reads_old_entries() -> None:
    new = row_error_entry(item(errorMessage="Email bad@ is invalid", invalidValue="bad@", knownColumnNumber=0),
                          HEADER)
    assert row_error_text(new) == "Email bad@ is invalid (INVALID_EMAIL, value 'bad@', column email)"
    # hubspot_import.json written before errorMessage was kept
    assert row_error_text({"line": 4, "errorType": "INVALID_EMAIL", "message": "bad (value 'x')"}) == \
        "bad (value 'x')"


def errors_at(*lines: int, error_type: str = "INVALID_EMAIL") -> list[dict]:
    return [row_error_entry(item(line, error_type, errorMessage="m", invalidValue=f"v{line}",
                                 knownColumnNumber=0), HEADER) for line in lines]


def done(file: str, errors: list[dict], **extra) -> dict:
    return {"file": file, "import_id": "81", "state": "DONE",
            "counters": {"ERRORS": len(errors)}, "errors": errors, **extra}


def test_stderr_totals_the_rows_over_two_csv_parts(tmp_path: Path) -> None:
    # Part 1: line 4 has two errors (one row); part 2: two rows. Lines repeat across parts: still 3 rows.
    result = {"imports": [
        done("hubspot_contacts_1.csv", errors_at(4, 4)),
        done("hubspot_contacts_2.csv", errors_at(4, 9, error_type="COULD_NOT_PARSE_NUMBER")),
    ]}

    line = row_error_summary(result, tmp_path)

    assert line.startswith("memberseg push: 3 rows not fully imported (4 row errors): "
                           "hubspot_contacts_1.csv line 4 INVALID_EMAIL 'v4' in email; ")
    assert "hubspot_contacts_2.csv line 9 COULD_NOT_PARSE_NUMBER 'v9' in email" in line
    assert line.endswith(f"; see {tmp_path / HUBSPOT_IMPORT_NAME}")
    assert "\n" not in line
    assert exit_code_for(result["imports"]) == 3


def test_stderr_names_the_first_five_then_points_to_the_file(tmp_path: Path) -> None:
    result = {"imports": [done("hubspot_contacts.csv", errors_at(*range(2, 10)))]}

    line = row_error_summary(result, tmp_path)

    assert line.startswith("memberseg push: 8 rows not fully imported (8 row errors): line 2 INVALID_EMAIL 'v2'")
    assert "line 6 " in line and "line 7 " not in line
    assert line.endswith(f"line 6 INVALID_EMAIL 'v6' in email; …; see {tmp_path / HUBSPOT_IMPORT_NAME}")
    assert "hubspot_contacts.csv line" not in line, "one file: its name is not repeated on every error"


def test_a_long_value_is_cut_on_stderr_only(tmp_path: Path) -> None:
    value = "é" * 300
    error = row_error_entry(item(errorMessage="m", invalidValue=value), HEADER)
    line = row_error_summary({"imports": [done("hubspot_contacts.csv", [error])]}, tmp_path)
    assert "'" + "é" * 40 + "…'" in line and value not in line
    assert error["invalidValue"] == value


def test_errors_beyond_the_cap_make_the_total_at_least(tmp_path: Path) -> None:
    capped = done("hubspot_contacts.csv", errors_at(2, 3), errors_truncated=True)
    capped["counters"] = {}     # and no counter to say how many

    line = row_error_summary({"imports": [capped]}, tmp_path)

    assert line.startswith("memberseg push: at least 2 rows not fully imported (2 row errors listed; "
                           "HubSpot has more): ")


def test_a_counter_above_the_list_makes_the_total_at_least(tmp_path: Path) -> None:
    short = done("hubspot_contacts_1.csv", errors_at(2, 3))
    short["counters"] = {"ERRORS": 1234}
    other = done("hubspot_contacts_2.csv", errors_at(5))

    line = row_error_summary({"imports": [short, other]}, tmp_path)

    assert line.startswith("memberseg push: at least 3 rows not fully imported "
                           "(3 of at least 1,235 row errors listed): ")


def test_a_counter_with_an_empty_list_still_exits_3_and_says_so(tmp_path: Path) -> None:
    unlisted = done("hubspot_contacts.csv", [])
    unlisted["counters"] = {"ERRORS": 2}

    assert exit_code_for([unlisted]) == 3
    assert row_error_summary({"imports": [unlisted]}, tmp_path) == (
        "memberseg push: at least 1 row not fully imported (0 of at least 2 row errors listed); "
        f"see {tmp_path / HUBSPOT_IMPORT_NAME}")


def test_an_import_that_did_not_finish_gets_a_line_of_its_own(tmp_path: Path) -> None:
    failed = {"file": "hubspot_contacts_2.csv", "import_id": "82", "state": "FAILED", "counters": {},
              "errors": []}
    lines = row_error_summary({"imports": [done("hubspot_contacts_1.csv", errors_at(3)), failed]},
                              tmp_path).splitlines()
    assert lines[0].startswith("memberseg push: 1 row not fully imported (1 row error): "
                               "hubspot_contacts_1.csv line 3")
    assert lines[1] == ("memberseg push: hubspot_contacts_2.csv: import 82 ended FAILED; see HubSpot's import "
                        f"page and {tmp_path / HUBSPOT_IMPORT_NAME}")


def test_a_file_written_before_errorMessage_was_kept_is_still_summarised(tmp_path: Path) -> None:
    old = {"file": "hubspot_contacts.csv", "import_id": "81", "state": "DONE", "counters": {},
           "errors": [{"line": 4, "errorType": "INVALID_EMAIL", "message": "Email x (value 'x')"}]}
    result = {"group": "exists", "properties": {"created": [], "updated": [], "unchanged": []}, "imports": [old]}

    assert row_error_summary(result, tmp_path).startswith(
        "memberseg push: 1 row not fully imported (1 row error): line 4 INVALID_EMAIL; see ")
    assert summary_lines(result)[1].endswith("; 1 row error in 1 row")
