"""The orders file's money rules as one SQL query, run by DuckDB over a CSV orders file of any size.

What a row means is `memberseg.orders`' definition, compiled into SQL once per file: each cell is parsed
by memberseg's own parsers (`memberseg.values`), once per distinct cell, into lookup tables; the rows
themselves (line items, row types, statuses, refunds, currencies, the join key, every rejection and
exclusion with its reason) are judged and summed per join key in SQL, so no row is ever a Python object.
DuckDB reads the CSV with every column as text, within `memory_limit`, spilling to `temp_directory`.

`summarize_csv` returns None for a file the SQL does not cover yet (a profile with fallback columns, a
date column in both orders, a file that is not UTF-8, blank lines or control characters, cells spanning
lines before the data): the pandas path reads it, and says what is wrong with it.
"""

# ruff: noqa: S608 - the SQL is ours; the only text from the file in it (headers, a profile's name) is quoted
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .headers import candidate_profiles, csv_head, decode_text, find_header
from .orders import FLOOR_FACT, MAX_ORDER_VALUE, MINOR_UNITS_TEXT, MONEY_BACK, ORDER_LEVEL_FIELDS, _not_whole
from .read import RawTable, SourceFacts, _build
from .rules import Rules
from .rules.currencies import CURRENCY_EXPONENTS, DEFAULT_EXPONENT, ZERO_DECIMAL_CURRENCIES
from .validate import MIXED, decide_locale, spec_of
from .values import (
    currency_codes_in_text,
    ids_with_keys,
    is_blank,
    last_amount,
    names_with_keys,
    to_dates,
    to_money,
    to_text,
    valid_email,
    zero_decimal_amounts,
)

# The first bytes read for the header search (the whole file is never decoded in Python).
HEAD_BYTES = 4 * 1024 * 1024
_CHUNK = 16 * 1024 * 1024
# Control characters (not tab, line feed, carriage return) and blank lines: the pandas reader's business.
_CONTROL = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
_NOT_CONTROL = bytes(sorted(set(range(256)) - set(_CONTROL)))
_BLANK_LINES = (b"\n\n", b"\n\r\n", b"\r\r")


@dataclass(frozen=True)
class EngineSettings:
    """How DuckDB may use the machine: `memory_limit` as DuckDB writes it ("1024MB"), the folder its spill
    folder is made in (None: the system's temporary directory), threads."""

    memory_limit: str
    temp_directory: str | None = None
    threads: int = 2

    @classmethod
    def of(cls, rules: Rules) -> EngineSettings:
        engine = rules.engine
        return cls(f"{engine.memory_limit_mb}MB", engine.temp_directory, max(1, min(os.cpu_count() or 1, 4)))


@dataclass
class SqlSummary:
    """What `memberseg.pipeline.OrdersSummary` takes from the orders file."""

    source: SourceFacts
    rejected: pd.DataFrame
    excluded: pd.DataFrame
    by_id: pd.DataFrame
    facts: dict


class _Declined(Exception):
    """The file holds something the SQL does not cover: the pandas path reads it."""


def _plain_bytes(path: Path) -> bool:
    """No control character, no blank line (pandas numbers a blank line's row, DuckDB skips it)."""
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            joined = tail + chunk
            if joined.translate(None, _NOT_CONTROL) or any(blank in joined for blank in _BLANK_LINES):
                return False
            tail = chunk[-2:]
    return True


# --- The file's layout, found in its first bytes as the pandas reader finds it, and its rows in DuckDB ---

@dataclass
class _Layout:
    """Where the rows are and what each column is; `header_table` is read.py's table of the header, no rows."""

    header_table: RawTable     # the header, fields and profile, with no rows
    found: dict[str, int]      # field -> the column's position in the file
    headers: list[str]         # every column's header, by its position in the file
    delimiter: str
    skip_lines: int            # lines before the first data row
    width: int


def _layout(path: Path, rules: Rules) -> _Layout:
    with path.open("rb") as handle:
        raw = handle.read(HEAD_BYTES)
        whole = not handle.read(1)
    decoded = decode_text(raw, "orders", path.name, final=whole)
    if decoded.encoding != "utf-8":
        raise _Declined("not UTF-8")
    search_rows = rules.inputs.header_search_rows
    head = csv_head(decoded.text, search_rows, complete=whole)
    choices = candidate_profiles(rules, "orders", None if rules.inputs.orders.profile == "auto"
                                 else rules.inputs.orders.profile)
    header = find_header([(None, head.rows)], choices, search_rows).header
    if header is None or header.spec is None:
        raise _Declined("no header")   # the pandas path names the missing columns
    width = max((len(row) for row in head.rows), default=0)
    before = decoded.text[:head.starts[header.row_index + 1]] if header.row_index + 1 < len(head.starts) else None
    if before is None or before.count("\n") + before.count("\r") - before.count("\r\n") != header.row_index + 1:
        raise _Declined("cells spanning lines before the data")
    empty = pd.DataFrame({position: pd.Series(dtype=object) for position in range(width)})
    table = _build("orders", path.name, None, header, empty, header.row_index + 2, True, rules.limits)
    if table.fallbacks:
        raise _Declined("fallback columns")
    table.profile_forced = len(choices) == 1 and rules.inputs.orders.profile != "auto"
    if table.profile is not None:
        table.inferred = rules.inferred_evidence(table.profile.name)
    width = max(width, len(header.cells))
    headers = [str(cell).strip() if cell not in (None, "") else "" for cell in header.cells]
    headers += [""] * (width - len(headers))
    return _Layout(table, dict(header.found), headers, head.delimiter, header.row_index + 1, width)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Query:
    """A DuckDB connection holding the file's rows as table `raw` (row, one text column f_<field> per field)."""

    def __init__(self, path: Path, layout: _Layout, settings: EngineSettings, spill: str):
        import duckdb

        self.db = duckdb.connect(config={"memory_limit": settings.memory_limit, "threads": settings.threads,
                                         "preserve_insertion_order": True, "temp_directory": spill})
        self.layout = layout
        width = layout.width
        columns = ", ".join(f"'c{position}': 'VARCHAR'" for position in range(width))
        every = " AND ".join(f"c{position} IS NULL" for position in range(width)) or "TRUE"
        self.db.execute(
            f"CREATE TEMP TABLE scanned AS SELECT *, ({every}) AS blank FROM read_csv({_quoted(str(path))}, "
            f"auto_detect=false, header=false, delim={_quoted(layout.delimiter)}, quote='\"', escape='\"', "
            f"null_padding=true, parallel=false, strict_mode=true, skip={layout.skip_lines}, "
            f"columns={{{columns}}})")
        self.rows_read = self.count("SELECT count(*) FROM scanned")

    def keep_fields(self) -> int:
        """Keep the fields' columns and the non-blank rows, numbered as Excel shows them; the rows kept."""
        first = self.layout.header_table.header_row + 1
        picks = ", ".join(f"coalesce(c{position}, '') AS f_{name}" for name, position in self.layout.found.items())
        self.db.execute(f"CREATE TEMP TABLE raw AS SELECT rowid + {first} AS row, {picks} "
                        "FROM scanned WHERE NOT blank ORDER BY rowid")
        self.db.execute("DROP TABLE scanned")
        return self.count("SELECT count(*) FROM raw")

    def distinct(self, position: int, rows: np.ndarray | None = None) -> set:
        """A column's values (in `rows`, indices of the file's data rows, or all): `ColumnValues` for
        the unread-columns check."""
        where = ""
        if rows is not None:
            self.register("sample", pd.DataFrame({"sampled": np.asarray(rows, dtype=np.int64)}))
            where = "WHERE rowid IN (SELECT sampled FROM sample)"
        found = {"" if cell is None else cell for (cell,) in
                 self.db.execute(f"SELECT DISTINCT c{position} FROM scanned {where}").fetchall()}
        if rows is not None:
            self.db.execute("DROP TABLE sample")
        return found

    def peek(self, position: int) -> np.ndarray:
        cells = self.db.execute(f"SELECT coalesce(c{position}, '') FROM scanned ORDER BY rowid").fetchall()
        return np.array([cell for (cell,) in cells], dtype=object)

    def cells(self, name: str, plain: str | None = None) -> pd.Series:
        """The field's distinct cells, in the order they first appear (but those matching `plain`)."""
        where = f"WHERE NOT regexp_full_match(f_{name}, '{plain}')" if plain else ""
        cells = self.db.execute(f"SELECT f_{name} FROM raw {where} GROUP BY f_{name} ORDER BY min(row)").fetchall()
        return pd.Series([cell for (cell,) in cells], dtype=object)

    def voters(self, name: str, plain: str) -> pd.Series:
        """The field's distinct cells in the order they first appear, but the plain amounts after the first
        with a decimal separator: the others vote as it does (`memberseg.values.decimal_separator_votes`)."""
        cells = self.db.execute(
            f"WITH d AS (SELECT f_{name} AS cell, min(row) AS first FROM raw GROUP BY f_{name}) "
            f"SELECT cell FROM d WHERE NOT regexp_full_match(cell, '{plain}') OR first = (SELECT min(first) FROM d "
            f"WHERE regexp_full_match(cell, '{plain}') AND regexp_matches(cell, '[.,]')) ORDER BY first").fetchall()
        return pd.Series([cell for (cell,) in cells], dtype=object)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.db.register(f"{name}_frame", frame)
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_frame")
        self.db.unregister(f"{name}_frame")

    def value(self, sql: str) -> object:
        found = self.db.execute(sql).fetchone()
        return None if found is None else found[0]

    def count(self, sql: str) -> int:
        found = self.db.execute(sql).fetchone()
        return int(found[0]) if found is not None else 0

    def frame(self, sql: str) -> pd.DataFrame:
        return self.db.execute(sql).df()

    def close(self) -> None:
        self.db.close()


# --- Each field's cells, parsed once per distinct cell by memberseg's parsers ---

def _nullable(frame: pd.DataFrame) -> pd.DataFrame:
    """NA as SQL NULL: float and text columns as pandas' nullable types, which DuckDB reads with their type."""
    out = {}
    for name, column in frame.items():
        if column.dtype == float:
            out[name] = column.astype("Float64")
        elif column.dtype == object:
            out[name] = column.astype("string")   # VARCHAR, even when every cell is NA
        else:
            out[name] = column
    return pd.DataFrame(out)


@dataclass
class _Meaning:
    """The profile's words and the file's decisions the SQL is compiled with."""

    table: RawTable
    rules: Rules
    decimal: str
    date_order: str | None
    join: str

    @property
    def has(self) -> set[str]:
        return set(self.table.fields)

    def header(self, name: str) -> str:
        return self.table.headers[self.table.fields[name]]

    @property
    def plain(self) -> str:
        """Amounts the SQL reads itself (most of a large file's, and nearly all distinct): digits with a decimal
        point and at most two decimals (only digits with a decimal comma). memberseg.values reads each such cell
        as the float of its text, no currency, no group separators, exactly as DuckDB's cast does."""
        return "[0-9]{1,15}(\\.[0-9]{1,2})?" if self.decimal == "." else "[0-9]{1,15}"


AMOUNT_COLUMNS = ("amount", "blank", "quote", "not_whole", "grouped", "in_text")


def _amount(meaning: _Meaning, name: str, column: str) -> str:
    """An amount cell's parsed `column`: from SQL for a plain amount, else from the field's lookup."""
    cell = f"f.f_{name}"
    plain = {"amount": f"CAST({cell} AS DOUBLE)", "blank": "FALSE", "quote": cell,
             "not_whole": f"contains({cell}, '.')", "grouped": "NULL::DOUBLE", "in_text": "NULL::VARCHAR"}[column]
    return f"(CASE WHEN regexp_full_match({cell}, '{meaning.plain}') THEN {plain} ELSE t_{name}.{column} END)"


def _lookups(query: _Query, meaning: _Meaning) -> None:
    """One table per field, `lk_<field>`: each distinct cell (and the blank cell '') with what it reads as."""
    spec = spec_of(meaning.table)
    for name in meaning.has:
        plain = meaning.plain if name in ("order_value", "refunded_value") else None
        cells = pd.concat([query.cells(name, plain), pd.Series([""], dtype=object)], ignore_index=True)
        cells = cells.drop_duplicates()
        cells = cells.reset_index(drop=True)
        parsed = pd.DataFrame({"raw": cells, "blank": is_blank(cells).to_numpy(dtype=bool)})
        if name in ("order_value", "refunded_value"):
            amount_raw = last_amount(cells) if name == "order_value" and spec.last_amount_wins else cells
            parsed["amount"] = to_money(amount_raw, meaning.decimal)
            parsed["blank"] = is_blank(amount_raw).to_numpy(dtype=bool)
            parsed["quote"] = amount_raw.astype(str).str.slice(0, 40)
            parsed["not_whole"] = _not_whole(amount_raw).to_numpy(dtype=bool)
            if name == "order_value":
                parsed["in_text"] = currency_codes_in_text(amount_raw)
                parsed["grouped"] = zero_decimal_amounts(amount_raw)
        elif name in ("status", "row_type"):
            classes = spec.statuses if name == "status" else spec.row_types
            text = to_text(cells)
            lookup = {key.strip().casefold(): value for key, value in classes.items()}
            parsed["text"] = text
            parsed["full"] = text.fillna("").astype(str)
            parsed["quote"] = parsed["full"].str.slice(0, 40)
            parsed["klass"] = text.fillna("").str.casefold().map(lookup)
        elif name == "currency":
            parsed["code"] = to_text(cells).str.upper()
        elif name == "order_date":
            assert meaning.date_order is not None  # noqa: S101 - the file has the column
            parsed["date"] = to_dates(cells, meaning.date_order)
        elif name == "customer_id":
            parts = ids_with_keys(cells)
            parsed["text"], parsed["key"] = parts["text"], parts["key"]
        elif name == "email":
            parsed["key"] = valid_email(to_text(cells).fillna(""))
        else:
            parsed["text"] = to_text(cells)
        query.register(f"lk_{name}", _nullable(parsed))


def _name_lookup(query: _Query, meaning: _Meaning) -> None:
    """`lk_names`: each distinct (customer_name, first_name, last_name) of the filled rows (a line item's name
    parts may come from different rows of its order) with the name it makes."""
    present = [name for name in ("customer_name", "first_name", "last_name") if name in meaning.has]
    if not present:
        return
    listed = ", ".join(f"f_{name}" for name in present)
    tuples = query.frame(f"SELECT {listed} FROM filled GROUP BY {listed} ORDER BY min(row)")
    blank = pd.DataFrame({f"f_{name}": [""] for name in present})
    tuples = pd.concat([tuples, blank], ignore_index=True).drop_duplicates(ignore_index=True)
    frame = pd.DataFrame({position: tuples[f"f_{name}"] for name, position in meaning.table.fields.items()
                          if name in present}, dtype=object)
    names_table = replace(meaning.table, frame=frame.reset_index(drop=True), rows=np.arange(len(tuples)),
                          _combined={})
    from .validate import names_of

    names, _, _ = names_of(names_table)
    tuples["names"] = names.to_numpy(dtype=object)
    tuples["name_key"] = names_with_keys(names)["key"].to_numpy(dtype=object)
    query.register("lk_names", _nullable(tuples))


def _locale(query: _Query, layout: _Layout, rules: Rules) -> tuple[dict, dict]:
    """The file's date order and decimal separator, decided by `memberseg.validate` from each column's
    distinct cells in the order they first appear (all its votes read)."""
    table = layout.header_table
    distinct = {name: query.cells(name) if name == "order_date" else query.voters(name, "[0-9]{1,15}(\\.[0-9]{1,2})?")
                for name in ("order_date", "order_value", "refunded_value") if name in table.fields}
    length = max((len(cells) for cells in distinct.values()), default=0)
    frame = pd.DataFrame({position: pd.Series([""] * length, dtype=object) for position in range(len(table.headers))})
    for name, cells in distinct.items():
        frame[table.fields[name]] = pd.concat([cells, pd.Series([""] * (length - len(cells)), dtype=object)],
                                              ignore_index=True)
    proxy = replace(table, frame=frame, rows=np.arange(length), _combined={})
    return decide_locale(proxy, rules)


# --- The row meaning in SQL ---

def _order_level_sql(meaning: _Meaning) -> str:
    """Table `filled`: a line-item export's rows carry their order's first non-blank order-level cells, and
    `head` marks the row that heads its order (every row, without an order ID column). A refund or an
    authorization (a row type other than payment) keeps its own cells."""
    has = meaning.has
    if "order_id" not in has:
        every = ", ".join(f"raw.f_{name}" for name in sorted(has))
        return f"CREATE TEMP TABLE filled AS SELECT raw.row, {every}, TRUE AS head FROM raw"
    apart = ("(own.text IS NOT NULL AND coalesce(own.klass, '') <> 'payment')" if "row_type" in has else "FALSE")
    own_join = "LEFT JOIN lk_row_type own ON own.raw = raw.f_row_type" if "row_type" in has else ""
    blanks: list[str] = []
    picks: list[str] = []
    for name in sorted(has):
        if name in ORDER_LEVEL_FIELDS:
            blanks.append(f"LEFT JOIN lk_{name} b_{name} ON b_{name}.raw = raw.f_{name}")   # no row: a plain amount
            picks.append(f"coalesce(first_value(CASE WHEN NOT coalesce(b_{name}.blank, FALSE) THEN raw.f_{name} END "
                         "IGNORE NULLS) "
                         f"OVER whole, '') AS f_{name}")
        else:
            picks.append(f"raw.f_{name}")
    return (f"CREATE TEMP TABLE filled AS SELECT raw.row, {', '.join(picks)}, "
            "raw.row = min(raw.row) OVER whole AS head FROM (SELECT raw.*, CASE WHEN " + apart
            + " THEN 'row:' || raw.row ELSE coalesce(oid.text, 'row:' || raw.row) END AS order_key FROM raw "
            f"LEFT JOIN lk_order_id oid ON oid.raw = raw.f_order_id {own_join}) raw {' '.join(blanks)} "
            "WINDOW whole AS (PARTITION BY order_key ORDER BY raw.row ROWS BETWEEN UNBOUNDED PRECEDING "
            "AND UNBOUNDED FOLLOWING)")


def _rows_sql(meaning: _Meaning) -> str:
    """Table `cells`: each row's parsed cells, from the lookups."""
    has = meaning.has
    joins = [f"LEFT JOIN lk_{name} t_{name} ON t_{name}.raw = f.f_{name}" for name in sorted(has)
             if name not in ("customer_name", "first_name", "last_name")]
    names = [name for name in ("customer_name", "first_name", "last_name") if name in has]
    if names:
        same = " AND ".join(f"t_names.f_{name} = f.f_{name}" for name in names)
        joins.append(f"LEFT JOIN lk_names t_names ON {same}")
    pick = {
        "rklass": "t_row_type.klass" if "row_type" in has else "'payment'",
        "rt_unknown": "t_row_type.klass IS NULL" if "row_type" in has else "FALSE",
        "rt_quote": "t_row_type.quote" if "row_type" in has else "''",
        "value0": _amount(meaning, "order_value", "amount"), "v_blank": _amount(meaning, "order_value", "blank"),
        "v_quote": _amount(meaning, "order_value", "quote"),
        "v_not_whole": _amount(meaning, "order_value", "not_whole"),
        "grouped": _amount(meaning, "order_value", "grouped"),
        "refunded0": (f"coalesce({_amount(meaning, 'refunded_value', 'amount')}, 0.0)" if "refunded_value" in has
                      else "0.0"),
        "r_blank": _amount(meaning, "refunded_value", "blank") if "refunded_value" in has else "TRUE",
        "r_quote": _amount(meaning, "refunded_value", "quote") if "refunded_value" in has else "''",
        "r_not_whole": _amount(meaning, "refunded_value", "not_whole") if "refunded_value" in has else "FALSE",
        "currency": (f"coalesce(t_currency.code, {_amount(meaning, 'order_value', 'in_text')})" if "currency" in has
                     else _amount(meaning, "order_value", "in_text")),
        "sklass": "t_status.klass" if "status" in has else "'paid'",
        "st_unknown": "t_status.klass IS NULL" if "status" in has else "FALSE",
        "st_quote": "t_status.quote" if "status" in has else "''",
        "st_full": "t_status.full" if "status" in has else "''",
        "order_date": "t_order_date.date" if "order_date" in has else "NULL::TIMESTAMP",
        "names": "t_names.names" if names else "NULL::VARCHAR",
        "id_text": "t_customer_id.text" if "customer_id" in has else "NULL::VARCHAR",
        "key": {"customer_id": "t_customer_id.key", "email": "t_email.key", "customer_name": "t_names.name_key"}[
            meaning.join],
    }
    pick["customer_id"] = {"customer_id": pick["id_text"], "email": pick["key"], "customer_name": pick["names"]}[
        meaning.join]
    columns = ", ".join(f"{expression} AS {name}" for name, expression in pick.items())
    back = ", ".join(f"'{kind}'" for kind in MONEY_BACK)
    return (f"CREATE TEMP TABLE cells AS SELECT f.row, f.head, {columns}, "
            f"coalesce(rklass IN ({back}), FALSE) AS money_back, coalesce(rklass = 'not_money', FALSE) AS not_money, "
            "CASE WHEN value0 IS NOT NULL AND NOT coalesce(rklass = 'not_money', FALSE) THEN currency END AS counted "
            f"FROM filled f {' '.join(joins)}")


def _base_currency(query: _Query, rules: Rules) -> str | None:
    """As `memberseg.orders._base_currency`: the rules', else the most common counted currency (ties: the
    first in code order); None when no counted row names a currency."""
    most_common = query.value("SELECT counted FROM cells WHERE counted IS NOT NULL GROUP BY counted "
                              "ORDER BY count(*) DESC, counted LIMIT 1")
    if most_common is None:
        return None
    return rules.orders.base_currency if rules.orders.base_currency != "auto" else str(most_common)


def _exponent_sql(column: str) -> str:
    cases = " ".join(f"WHEN {_quoted(code)} THEN {int(exponent)}" for code, exponent in CURRENCY_EXPONENTS.items())
    return f"(CASE {column} {cases} ELSE {int(DEFAULT_EXPONENT)} END)"


def _judged_sql(meaning: _Meaning, base: str | None, unit_base: str | None) -> str:
    """Table `judged`: each row's counted value, its rejection and its exclusion reasons (as
    `memberseg.orders.validate_orders`)."""
    spec = spec_of(meaning.table)
    has = meaning.has
    if spec.amount_unit == "minor":
        fallback = _quoted(unit_base or "")
        scale = "pow(10.0, " + _exponent_sql(f"coalesce(currency, {fallback})") + ")"
        value, refunded = f"value0 / {scale}", f"refunded0 / {scale}"
    else:
        codes = ", ".join(_quoted(code) for code in sorted(ZERO_DECIMAL_CURRENCIES))
        value = f"CASE WHEN currency IN ({codes}) AND grouped IS NOT NULL THEN grouped ELSE value0 END"
        refunded = "refunded0"
    net = "value - refunded"
    if "refunded_value" in has:
        net = f"CASE WHEN {net} < 0 THEN 0.0 ELSE {net} END"
    net = (f"CASE WHEN money_back THEN -abs(value) WHEN sklass IS NOT DISTINCT FROM 'refunded' THEN 0.0 "
           f"ELSE {net} END")
    if base is None:
        converted, rate_missing = "net", "FALSE"
    else:
        converted, rate_missing = "net * coalesce(rate, 0.0)", "rate IS NULL"
    profile = meaning.table.profile.name if meaning.table.profile else ""
    missing_key = {"customer_id": "no customer ID", "email": "no valid email", "customer_name": "no customer name"}[
        meaning.join]
    too_large = f"is too large to add up (an order is below {MAX_ORDER_VALUE:,.0f})"
    checks = [
        ("key IS NULL", _quoted(missing_key)),
        ("st_unknown", "'status ''' || st_quote || " + _quoted(
            f"' is not one the profile knows (add it under profiles.{profile}.orders.statuses)")),
    ]
    if "row_type" in has:
        checks.append(("rt_unknown", f"{_quoted(meaning.header('row_type') + ' ' + chr(39))} || rt_quote || "
                       + _quoted(f"' is not a row type the profile knows (add it under profiles.{profile}"
                                 ".orders.row_types)")))
    checks += [
        ("v_blank", "'order value is blank'"),
        ("NOT v_blank AND value IS NULL", "'order value ''' || v_quote || ''' is not a number'"),
        (f"value IS NOT NULL AND (abs(value) >= {MAX_ORDER_VALUE!r} OR NOT coalesce(abs(converted) < "
         f"{MAX_ORDER_VALUE!r}, FALSE))", f"'order value ''' || v_quote || {_quoted(chr(39) + ' ' + too_large)}"),
    ]
    if spec.amount_unit == "minor":
        checks.append(("NOT v_blank AND v_not_whole",
                       f"'order value ''' || v_quote || {_quoted(chr(39) + ' ' + MINOR_UNITS_TEXT)}"))
        if "refunded_value" in has:
            checks.append(("NOT r_blank AND r_not_whole",
                           f"'refunded amount ''' || r_quote || {_quoted(chr(39) + ' ' + MINOR_UNITS_TEXT)}"))
    failed = ", ".join(f"CASE WHEN coalesce({condition}, FALSE) THEN {text} END" for condition, text in checks)
    excluded = []
    if "row_type" in has:
        said = _quoted(meaning.header("row_type") + " '") + " || rt_quote || ''''"
        excluded += [("not_money", f"{said} || ' moves no money'"),
                     ("money_back AND NOT coalesce(sklass = 'paid', FALSE)",
                      f"{said} || ' with status ''' || st_full || ''' did not go through: nothing is subtracted'")]
    excluded += [("coalesce(sklass = 'unpaid', FALSE) AND NOT money_back",
                  "'order status ''' || st_full || ''' is not paid'"),
                 (rate_missing, "'currency ' || counted || ' has no rate in the rules (orders.currency_rates)'")]
    exclusion = "CASE " + " ".join(f"WHEN {condition} THEN {text}" for condition, text in excluded) + " ELSE '' END"
    rates = "" if base is None else "LEFT JOIN rates ON rates.code = coalesce(counted, " + _quoted(base) + ")"
    return (
        "CREATE TEMP TABLE judged AS SELECT *, CASE WHEN not_money THEN '' ELSE concat_ws('; ', "
        f"{failed}) END AS reason, {exclusion} AS excluded_reason, "
        "coalesce(head AND rklass = 'payment', FALSE) AS is_order "
        f"FROM (SELECT *, {converted} AS converted FROM (SELECT *, {net} AS net FROM (SELECT c.*, {value} AS value, "
        f"{refunded} AS refunded FROM cells c) c) c {rates}) c")


VALID = "reason = '' AND excluded_reason = ''"
VALUE = "CASE WHEN is_order THEN converted ELSE 0.0 END"
REFUND = "CASE WHEN money_back AND coalesce(sklass = 'paid', FALSE) THEN -converted ELSE 0.0 END"


def _by_id(query: _Query, with_refunds: bool) -> pd.DataFrame:
    """`memberseg.orders.orders_by_id` over the valid rows, in the order each join key first appears.

    The money is summed by pandas' groupby, over each key's number and the rows' amounts in file order (12 or
    20 bytes a row): its compensated sum is not DuckDB's, and the totals must be the same floats."""
    query.db.execute(f"CREATE TEMP TABLE keys AS SELECT key, row_number() OVER (ORDER BY min(row)) - 1 AS code, "
                     "count(*) AS rows, sum(is_order::BIGINT)::BIGINT AS order_count, "
                     "max(CASE WHEN money_back THEN NULL ELSE order_date END) AS last_order, "
                     "min(CASE WHEN is_order AND converted > 0 THEN order_date END) AS first_paid, "
                     "first(customer_id ORDER BY row) FILTER (WHERE customer_id IS NOT NULL) AS customer_id, "
                     "first(names ORDER BY row) FILTER (WHERE names IS NOT NULL) AS customer_name "
                     f"FROM judged WHERE {VALID} GROUP BY key")
    refund = f", {REFUND} AS refunds" if with_refunds else ""
    amounts = query.db.execute(f"SELECT keys.code::INTEGER AS code, {VALUE} AS total{refund} FROM judged "
                               f"JOIN keys USING (key) WHERE {VALID} ORDER BY row").fetchnumpy()
    sums = pd.DataFrame(amounts).groupby("code", sort=True).sum()
    del amounts
    frame = query.frame("SELECT key AS id_key, order_count, rows, last_order, first_paid, customer_id, customer_name "
                        "FROM keys ORDER BY code")
    sums.index = pd.Index(frame["id_key"].to_numpy(dtype=object), name="id_key")
    return pd.concat([sums, frame.set_index("id_key")], axis=1)


def _split(query: _Query, which: str) -> pd.DataFrame:
    """The rejected (or excluded) rows: row, customer_id, customer_name, reason, in file order."""
    condition = "reason <> ''" if which == "reason" else "reason = '' AND excluded_reason <> ''"
    return query.frame(f"SELECT row, customer_id, names AS customer_name, {which} AS reason FROM judged "
                       f"WHERE {condition} ORDER BY row")


def _as_pandas(frame: pd.DataFrame, dates: tuple[str, ...] = (), missing: object = pd.NA) -> pd.DataFrame:
    """DuckDB's frame in the pandas path's types: missing text as `missing` (pandas' groupby "first" of no text
    is None), dates as DATE_UNIT, counts as int64."""
    from .values import DATE_UNIT

    out = frame.copy()
    for name, column in out.items():
        if name in dates:
            out[name] = column.astype(DATE_UNIT)
        elif column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            out[name] = column.astype(object).where(column.notna(), missing)
        elif str(column.dtype) in ("int32", "uint64", "Int64"):
            out[name] = column.astype(np.int64)
    return out


def _facts(query: _Query, meaning: _Meaning, base: str | None, unit_base: str | None) -> dict:
    facts: dict = {"join_key": meaning.join, "currency": {}, "line_items": "order_id" in meaning.has,
                   "orders_in": query.count("SELECT count(*) FROM judged WHERE is_order")}
    if base is not None:
        counts = query.db.execute("SELECT counted, count(*) FROM cells WHERE counted IS NOT NULL GROUP BY counted "
                                  "ORDER BY counted").fetchall()
        fixed = meaning.rules.orders.base_currency != "auto"
        facts["currency"] = {"base": base, "chosen_by": "rules" if fixed else "most common in file",
                             "rows_by_currency": {str(code): int(count) for code, count in counts},
                             "rows_without_currency_read_as_base": query.count(
                                 "SELECT count(*) FROM cells WHERE counted IS NULL")}
    if "row_type" in meaning.has:
        classes = query.db.execute("SELECT coalesce(rklass, 'unknown') AS k, count(*) FROM cells GROUP BY k "
                                   "ORDER BY k").fetchall()
        subtracted = query.count("SELECT count(*) FROM judged WHERE reason = '' AND excluded_reason = '' AND "
                                 "money_back AND coalesce(sklass = 'paid', FALSE)")
        facts["row_types"] = {"column": meaning.header("row_type"),
                              "rows_by_class": {str(name): int(count) for name, count in classes},
                              "subtracted_rows": subtracted, "floor": FLOOR_FACT}
    if spec_of(meaning.table).amount_unit == "minor":
        used = [code for (code,) in query.db.execute("SELECT DISTINCT currency FROM cells WHERE currency IS NOT NULL "
                                                     "ORDER BY currency").fetchall()]
        facts["amount_unit"] = {"unit": "minor", "divided_by_10_to_the": {
            str(code): int(CURRENCY_EXPONENTS.get(code, DEFAULT_EXPONENT)) for code in used},
            "rows_without_currency_exponent": int(CURRENCY_EXPONENTS.get(unit_base or "", DEFAULT_EXPONENT))}
    return facts


def summarize_csv(path: Path, rules: Rules, settings: EngineSettings | None = None) -> SqlSummary | None:
    """The CSV orders file's summary, rejections and exclusions, computed in DuckDB; None when the file holds
    something the SQL does not cover (the caller reads it with pandas)."""
    import duckdb

    path = Path(path)
    settings = settings or EngineSettings.of(rules)
    if not _plain_bytes(path):
        return None
    with tempfile.TemporaryDirectory(prefix="memberseg-duckdb-", dir=settings.temp_directory) as spill:
        try:
            layout = _layout(path, rules)
            query = _Query(path, layout, settings, spill)
        except (_Declined, duckdb.Error):
            return None
        try:
            return _summarize(query, path, layout, rules)
        except (_Declined, duckdb.Error):
            return None
        finally:
            query.close()


def _summarize(query: _Query, path: Path, layout: _Layout, rules: Rules) -> SqlSummary:
    from .orders import _net, join_key_of
    from .unread_columns import check_columns

    if True:
        table = layout.header_table
        spec = spec_of(table)
        assert table.profile is not None  # noqa: S101 - set by find_header
        check_columns("orders", path.name, None, table.profile.name, spec, layout.headers,
                      layout.found, query.rows_read, query)
        rows_in = query.keep_fields()
        if rows_in > rules.limits.max_rows:
            from .errors import InputError
            from .headers import describe_file

            raise InputError("too_many_rows", f"{describe_file('orders', path.name, None)} has {rows_in:,} data "
                             f"rows; the limit is {rules.limits.max_rows:,}.", file=path.name, sheet=None)
        locale, date_columns = _locale(query, layout, rules)
        order = date_columns["order_date"].order if "order_date" in date_columns else None
        if order == MIXED:
            raise _Declined("a date column in both orders")
        meaning = _Meaning(table, rules, locale["decimal_separator"], order, join_key_of(table))
        _lookups(query, meaning)
        query.db.execute(_order_level_sql(meaning))
        _name_lookup(query, meaning)
        query.db.execute(_rows_sql(meaning))
        base = _base_currency(query, rules)
        unit_base = None
        if spec.amount_unit == "minor":
            unit_base = rules.orders.base_currency if rules.orders.base_currency != "auto" else base
        if base is not None:
            rates = {**rules.orders.currency_rates, base: 1.0}
            query.register("rates", pd.DataFrame({"code": list(rates), "rate": [float(r) for r in rates.values()]}))
        query.db.execute(_judged_sql(meaning, base, unit_base))
        with_refunds = "row_type" in meaning.has
        by_id = _as_pandas(_by_id(query, with_refunds), ("last_order", "first_paid"), None)
        if with_refunds:
            by_id["paid"] = by_id["total"]
            by_id["total"] = _net(by_id["paid"], by_id["refunds"])
        rejected, excluded = _as_pandas(_split(query, "reason")), _as_pandas(_split(query, "excluded_reason"))
        facts = _facts(query, meaning, base, unit_base)
        source = replace(table.facts(locale), rows_in=rows_in)
        return SqlSummary(source, rejected, excluded, by_id, facts)

