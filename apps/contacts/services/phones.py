"""Phone numbers to E.164, fast enough for million-row imports.

`phonenumbers.parse` costs ~20 µs a number, more than the rest of an import row put together.
Most numbers in real files have one of three plain shapes — "+<country><number>", a national
number, or a national number behind the trunk prefix ("0…") — and for those the library's
answer follows from its own metadata (country codes, trunk-prefix patterns, possible lengths)
without running the whole parser. `PhoneNormaliser` answers those shapes from that metadata and
hands everything else (letters, extensions, IDD prefixes like "00", a national number that
starts with the country code, regions with prefix transform rules) to `phonenumbers` itself,
memoising the result. tests/contacts/test_phones.py checks the fast path against the library
on generated numbers for several regions.

A number is accepted when phonenumbers calls it *possible* (right length for its country), not
only when it is *valid* (in an allocated range): ranges change faster than the library's
metadata, and "(555) 123-4567" from a US address book must import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, ValidationResult

# Separators people type inside numbers; anything else (letters, "#", "x", "ext") goes to the
# full parser.
_SEPARATORS = str.maketrans("", "", " -.()/\u00a0\t\u2010\u2011\u2012\u2013\u2014")
# Slow-path results kept per normaliser: enough for the repeated shapes of one file without
# growing with it.
SLOW_PATH_MEMO_MAX = 100_000

REASON_MISSING = "missing phone number"
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone number too short",
    NumberParseException.TOO_SHORT_NSN: "phone number too short",
    NumberParseException.TOO_LONG: "phone number too long",
}
_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "phone number too short",
    ValidationResult.TOO_LONG: "phone number too long",
    ValidationResult.INVALID_LENGTH: "wrong number of digits for the country",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without area code",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


@dataclass(frozen=True)
class _Country:
    """What the fast path needs to know about one country calling code."""

    code: str
    possible_lengths: frozenset[int]
    local_lengths: frozenset[int]
    max_length: int
    trunk_prefix: re.Pattern[str] | None  # national_prefix_for_parsing
    transforms_prefix: bool  # a prefix transform rule exists: leave those to the parser
    national_pattern: re.Pattern[str] | None


def _country(metadata: PhoneMetadata) -> _Country:
    desc = metadata.general_desc
    local_only = set(desc.possible_length_local_only or ())
    lengths = frozenset(n for n in (desc.possible_length or ()) if n > 0 and n not in local_only)
    prefix = metadata.national_prefix_for_parsing
    return _Country(
        code=str(metadata.country_code),
        possible_lengths=lengths,
        local_lengths=frozenset(local_only),
        max_length=max(desc.possible_length or (0,)),
        trunk_prefix=re.compile(prefix) if prefix else None,
        transforms_prefix=bool(metadata.national_prefix_transform_rule),
        national_pattern=re.compile(desc.national_number_pattern) if desc.national_number_pattern else None,
    )


@cache
def _countries_by_code() -> dict[str, _Country]:
    countries = {}
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        region = phonenumbers.region_code_for_country_code(code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if metadata is not None:
            countries[str(code)] = _country(metadata)
    return countries


def normalise_slow(raw: str, region: str) -> tuple[str | None, str | None]:
    """The reference answer: phonenumbers' parser. Returns (e164, None) or (None, reason)."""
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        return None, _PARSE_REASONS.get(exc.error_type, "not a phone number")
    result = phonenumbers.is_possible_number_with_reason(number)
    if result != ValidationResult.IS_POSSIBLE:
        return None, _LENGTH_REASONS.get(result, "not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


class PhoneNormaliser:
    """Reads numbers written for one default region (the tenant's). Call it with the text of
    a cell; it returns (e164, None) or (None, reason). Not thread-safe (its memo is a dict)."""

    def __init__(self, region: str):
        region = region.upper()
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            raise ValueError(f"unknown phone region {region!r}")
        self.region = region
        self._home = _country(metadata)
        self._idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
        self._countries = _countries_by_code()
        self._memo: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, raw: str) -> tuple[str | None, str | None]:
        compact = raw.translate(_SEPARATORS)
        if not compact:
            return None, REASON_MISSING
        if compact[0] == "+":
            digits = compact[1:]
            if digits.isascii() and digits.isdigit():
                e164 = self._international(digits)
                if e164 is not None:
                    return e164, None
        elif compact.isascii() and compact.isdigit():
            e164 = self._national(compact)
            if e164 is not None:
                return e164, None
        return self._slow(raw)

    def _international(self, digits: str) -> str | None:
        countries = self._countries
        for length in (1, 2, 3):
            country = countries.get(digits[:length])
            if country is not None:
                break
        else:
            return None
        national = digits[length:]
        if country.trunk_prefix is not None and country.trunk_prefix.match(national):
            return None
        if len(national) in country.possible_lengths:
            return "+" + digits
        return None

    def _national(self, digits: str) -> str | None:
        home = self._home
        if self._idd is not None and self._idd.match(digits):
            return None  # "00…"/"011…": dialled abroad; the parser reads the country code
        if digits.startswith(home.code):
            return self._national_with_code(digits)
        prefix = home.trunk_prefix
        if prefix is not None:
            match = prefix.match(digits)
            if match:
                if home.transforms_prefix:
                    return None
                stripped = digits[match.end() :]
                pattern = home.national_pattern
                # The parser keeps the prefix when the number fits its country only with it.
                if pattern is not None and pattern.fullmatch(digits) and not pattern.fullmatch(stripped):
                    return None
                if len(stripped) in home.possible_lengths:
                    return "+" + home.code + stripped
                return None
        if len(digits) in home.possible_lengths:
            return "+" + home.code + digits
        return None

    def _national_with_code(self, digits: str) -> str | None:
        """Digits that start with the home country code: "919876543210" in India. The parser
        drops the code when the rest fits the country and the whole does not, or when the
        whole is too long; only cases with no trunk prefix in play are answered here."""
        home = self._home
        pattern = home.national_pattern
        if pattern is None:
            return None
        prefix = home.trunk_prefix
        rest = digits[len(home.code) :]
        if prefix is not None and (prefix.match(rest) or prefix.match(digits)):
            return None
        too_long = len(digits) > home.max_length and len(digits) not in home.local_lengths
        national = rest if too_long or (not pattern.fullmatch(digits) and pattern.fullmatch(rest)) else digits
        if len(national) in home.possible_lengths:
            return "+" + home.code + national
        return None

    def _slow(self, raw: str) -> tuple[str | None, str | None]:
        known = self._memo.get(raw)
        if known is not None:
            return known
        result = normalise_slow(raw, self.region)
        if len(self._memo) < SLOW_PATH_MEMO_MAX:
            self._memo[raw] = result
        return result


@cache
def normaliser_for(region: str) -> PhoneNormaliser:
    return PhoneNormaliser(region)


def normalise_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """One number to E.164: (e164, None) or (None, reason). For forms and the API."""
    return normaliser_for(region.upper())(raw or "")
