"""Making user-supplied text safe to open in a spreadsheet (CSV/formula injection).

A cell that starts with "=", "+", "-" or "@" (or a tab / carriage return that some programs
skip before one) is run as a formula by Excel, LibreOffice and Google Sheets. Every file Chorus
writes for people to open — exports, import error reports — prefixes such cells with an
apostrophe, which spreadsheets show as text. Plain signed numbers ("+919876543210", "-5") are
left alone: they cannot call anything, and E.164 numbers stay readable by other programs.
"""

from __future__ import annotations

import re

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def formula_neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def row_neutralise(values: list) -> list:
    return [formula_neutralise(value) for value in values]
