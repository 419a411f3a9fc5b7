"""Phone normalisation: the issue's messy numbers, and the fast path agreeing with phonenumbers."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from apps.contacts.services.phones import PhoneNormaliser, normalise_slow


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+91 98765-43210", "IN", "+919876543210"),
        ("098765 43210", "IN", "+919876543210"),
        ("(555) 123-4567", "US", "+15551234567"),
        ("+91 98765-43210", "US", "+919876543210"),
        ("9876543210", "IN", "+919876543210"),
        ("919876543210", "IN", "+919876543210"),
        ("0091 98765 43210", "IN", "+919876543210"),
        ("+44 20 7946 0958", "IN", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("1 (201) 555-0123", "US", "+12015550123"),
        ("+1-201-555-0123 ext. 12", "IN", "+12015550123"),
        ("'+919876543210", "IN", "+919876543210"),
    ],
)
def test_messy_numbers_become_e164(raw, region, expected):
    assert PhoneNormaliser(region)(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "missing phone number"),
        ("  ", "missing phone number"),
        ("12345", "phone number too short"),
        ("call me", "not a phone number"),
        ("+999 1234 5678", "unknown country code"),
        ("98765432101234567890", "phone number too long"),
    ],
)
def test_unreadable_numbers_have_a_reason(raw, reason):
    assert PhoneNormaliser("IN")(raw) == (None, reason)


def _corpus(rng: random.Random, count: int, home_code: str) -> list[str]:
    """Numbers in the shapes people write, most of them plausible, some not."""
    codes = ["91", "1", "44", "49", "55", "54", "52", "39", "33", "7", "86", "62", "234", "971", "880", "0", "999"]
    shapes = []
    for _ in range(count):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 14)))
        code = rng.choice(codes)
        pick = rng.random()
        if pick < 0.3:
            raw = f"+{code} {digits}"
        elif pick < 0.5:
            raw = digits
        elif pick < 0.65:
            raw = "0" + digits
        elif pick < 0.7:
            raw = code + digits
        elif pick < 0.75:
            raw = home_code + rng.choice(["", "0"]) + digits
        elif pick < 0.85:
            raw = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
        else:
            raw = "00" + code + digits
        shapes.append(raw)
    return shapes


@pytest.mark.parametrize("region", ["IN", "US", "GB", "DE", "BR", "AR", "MX", "IT", "FR", "RU", "CN", "ID", "NG"])
def test_fast_path_gives_the_parsers_answer(region):
    rng = random.Random(f"phones-{region}")
    normalise = PhoneNormaliser(region)
    home_code = str(phonenumbers.country_code_for_region(region))
    mismatches = [
        (raw, normalise(raw), normalise_slow(raw, region))
        for raw in _corpus(rng, 6000, home_code)
        if normalise(raw) != normalise_slow(raw, region)
    ]
    assert mismatches == []
