"""The currencies' minor-unit exponents (ISO 4217), kept as data in `currency_exponents.yaml`: how many
decimals an amount has, so an amount in minor units (cents) is divided by 10 ** exponent, and which
currencies have no decimals at all (their "1.000" is a thousand)."""

from __future__ import annotations

from importlib import resources

import yaml

CURRENCY_EXPONENTS_NAME = "currency_exponents.yaml"


def _load() -> tuple[int, dict[str, int]]:
    data = yaml.safe_load(resources.files(__package__).joinpath(CURRENCY_EXPONENTS_NAME).read_text(encoding="utf-8"))
    exponents = {str(code): int(exponent) for code, exponent in data["exponents"].items()}
    if not all(len(code) == 3 and code.isupper() and exponent in (0, 1, 2, 3, 4)
               for code, exponent in exponents.items()):
        raise RuntimeError(f"{CURRENCY_EXPONENTS_NAME}: every entry is a three-letter code and an exponent 0..4")
    return int(data["default"]), exponents


DEFAULT_EXPONENT, CURRENCY_EXPONENTS = _load()
ZERO_DECIMAL_CURRENCIES = frozenset(code for code, exponent in CURRENCY_EXPONENTS.items() if exponent == 0)


def exponent_of(code: str | None) -> int:
    """The number of decimals of a currency's amounts; the ISO default (2) for a code not listed."""
    return CURRENCY_EXPONENTS.get(code or "", DEFAULT_EXPONENT)
