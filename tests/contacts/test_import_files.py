"""Guessing how a file was saved: format, encoding and delimiter."""

from __future__ import annotations

import codecs
import io

import pytest

from apps.contacts.services.import_files import (
    ImportFileError,
    clean_headers,
    detect_delimiter,
    detect_encoding,
    detect_layout,
)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("Name,Phone\nAsha,+919876543210\nRavi,+919876543211\n", ","),
        ("Name;Phone;City\nAsha;+919876543210;Pune\nRavi;+919876543211;Delhi\n", ";"),
        ("Name\tPhone\nAsha\t+919876543210\nRavi\t+919876543211\n", "\t"),
        ("Name|Phone\nAsha|+919876543210\nRavi|+919876543211\n", "|"),
        # Commas inside quoted names do not fool it into a comma file.
        ('Name;Phone\n"Kumar, Ravi";+919876543210\n"Shah, Asha";+919876543211\n', ";"),
        # A one-column file of numbers.
        ("Phone\n+919876543210\n+919876543211\n", ","),
    ],
)
def test_delimiter_is_detected(sample, expected):
    assert detect_delimiter(sample) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "Name,Phone\nZoë,1\n".encode(), "utf-8-sig"),
        ("Name,Phone\nZoë,1\n".encode(), "utf-8"),
        ("Name\tPhone\nZoë\t1\n".encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + "Name\tPhone\n".encode("utf-16-be"), "utf-16"),
        ("Name,Phone\nJosé Müller,1\n".encode("latin-1"), "cp1252"),
        # 0x81 is undefined in Windows-1252: only Latin-1 reads it.
        (b"Name,Phone\nA\x81,1\n", "latin-1"),
        ("Name,Phone\n".encode("utf-16-le"), "utf-16-le"),
    ],
)
def test_encoding_is_detected(data, expected):
    assert detect_encoding(io.BytesIO(data)) == expected


def test_utf8_is_checked_past_the_sample():
    data = ("Name,Phone\n" + "Asha,1\n" * 20000).encode() + "José,2\n".encode("latin-1")
    assert detect_encoding(io.BytesIO(data)) == "cp1252"


def test_legacy_xls_is_refused_with_advice():
    with pytest.raises(ImportFileError, match="xlsx"):
        detect_layout(io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100), "old.xls")


def test_binary_junk_is_refused():
    with pytest.raises(ImportFileError):
        detect_layout(io.BytesIO(bytes(range(256)) * 10), "contacts.csv")


def test_headers_are_cleaned():
    assert clean_headers(["\ufeffName ", "", "Phone", "Phone"]) == ["Name", "Column 2", "Phone", "Phone (2)"]
