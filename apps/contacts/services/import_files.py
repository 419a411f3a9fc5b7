"""Reading contact files as people actually save them.

CSV from Excel comes as UTF-8 with or without a byte-order mark, as "Unicode text" (UTF-16 with
a BOM, tab-separated), or in the machine's legacy code page (Windows-1252 / Latin-1); the
delimiter is a comma, a semicolon (European Excel), a tab or a pipe. XLSX is read with openpyxl
in read-only mode, so a large sheet streams instead of loading whole.

Every reader yields (line number, cells) with the header as line 1, so error reports point at
the line a spreadsheet shows.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from apps.core.exceptions import ValidationFailed

DELIMITERS = ",;\t|"
# Bytes looked at to guess the format, encoding and delimiter.
SAMPLE_BYTES = 64 * 1024
# Lines of the sample used to judge a delimiter.
SAMPLE_LINES = 50
READ_CHUNK_BYTES = 1024 * 1024

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


class ImportFileError(ValidationFailed):
    default_code = "import_file_unreadable"


@dataclass(frozen=True)
class FileLayout:
    format: str  # "csv" or "xlsx" (ImportJob.Format)
    encoding: str  # "" for xlsx
    delimiter: str  # "" for xlsx


def detect_format(head: bytes, name: str) -> str:
    if head.startswith(_XLSX_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC) or name.lower().endswith(".xls"):
        raise ImportFileError("Old Excel (.xls) files cannot be read: save the sheet as .xlsx or CSV.")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # NULs without a UTF-16 BOM: UTF-16 saved without one, or not text at all.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) < len(head) // 4:
            raise ImportFileError("This does not look like a CSV, TSV or XLSX file.")
    return "csv"


def detect_encoding(stream: IO[bytes]) -> str:
    """UTF-16 and UTF-8 by their byte-order marks; otherwise UTF-8 when every byte of the
    file decodes as UTF-8 (checked in chunks, it is cheap next to the import), else
    Windows-1252 when it decodes as that, else Latin-1 (which decodes anything)."""
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] and head[2]:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] and head[3]:
        return "utf-16-be"
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := stream.read(READ_CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            stream.seek(0)
            continue
        stream.seek(0)
        return encoding
    stream.seek(0)
    return "latin-1"


def _consistency(lines: list[str], delimiter: str) -> tuple[float, int]:
    """How well `delimiter` splits the sample: the share of lines with the most common column
    count (above one column), and that count."""
    counts = Counter(len(row) for row in csv.reader(lines, delimiter=delimiter) if row)
    if not counts:
        return 0.0, 0
    columns, hits = counts.most_common(1)[0]
    if columns < 2:
        return 0.0, columns
    return hits / sum(counts.values()), columns


def detect_delimiter(sample: str) -> str:
    """csv.Sniffer limited to the usual delimiters, checked against how consistently each
    candidate splits the sample; a comma when nothing splits it (a one-column file)."""
    lines = sample.splitlines()[:SAMPLE_LINES]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample cut the last line short
    scores = {d: _consistency(lines, d) for d in DELIMITERS}
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    best = max(DELIMITERS, key=lambda d: scores[d])
    if sniffed in scores and scores[sniffed] >= scores[best]:
        return sniffed
    return best if scores[best][1] >= 2 else ","


def detect_layout(stream: IO[bytes], name: str, *, delimiter: str | None = None) -> FileLayout:
    stream.seek(0)
    head = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    file_format = detect_format(head, name)
    if file_format == "xlsx":
        return FileLayout(format="xlsx", encoding="", delimiter="")
    encoding = detect_encoding(stream)
    sample = head.decode(encoding, errors="ignore")
    if delimiter is None:
        delimiter = detect_delimiter(sample)
    elif delimiter not in DELIMITERS:
        raise ValidationFailed(f"Unsupported delimiter {delimiter!r}.", code="invalid_delimiter")
    return FileLayout(format="csv", encoding=encoding, delimiter=delimiter)


def raw_binary(stream: IO[bytes]) -> IO[bytes]:
    """The io object under Django's File wrappers (TextIOWrapper wants a real binary stream)."""
    while not isinstance(stream, io.IOBase) and hasattr(stream, "file"):
        stream = stream.file
    return stream


def _csv_rows(stream: IO[bytes], layout: FileLayout) -> Iterator[tuple[int, list[str]]]:
    stream = raw_binary(stream)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=layout.encoding, newline="")
    try:
        reader = csv.reader(text, delimiter=layout.delimiter)
        for row in reader:
            yield reader.line_num, row
    finally:
        text.detach()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        # Numbers typed into Excel (phone numbers!) come back as floats: 919876543210.0.
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _xlsx_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    workbook = _open_workbook(stream)
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(value) for value in values]
            while cells and cells[-1] == "":
                cells.pop()  # read-only sheets pad rows to the sheet's width
            yield number, cells
    finally:
        workbook.close()


def _open_workbook(stream: IO[bytes]):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    stream.seek(0)
    try:
        return load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise ImportFileError("The Excel file could not be opened.") from exc


def xlsx_row_count(stream: IO[bytes]) -> int | None:
    """Rows the sheet declares (for progress); None when it does not say."""
    workbook = _open_workbook(stream)
    try:
        return workbook.worksheets[0].max_row
    finally:
        workbook.close()
        stream.seek(0)


def read_rows(stream: IO[bytes], layout: FileLayout) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for every row, the header first."""
    if layout.format == "xlsx":
        return _xlsx_rows(stream)
    return _csv_rows(stream, layout)


def clean_headers(cells: list[str]) -> list[str]:
    """Header names trimmed; blanks named "Column N"; repeats made unique ("Phone (2)")."""
    headers: list[str] = []
    seen: Counter[str] = Counter()
    for index, cell in enumerate(cells, start=1):
        name = cell.strip().lstrip("\ufeff") or f"Column {index}"
        seen[name] += 1
        headers.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return headers
