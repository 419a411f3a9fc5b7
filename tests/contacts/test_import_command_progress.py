"""`manage.py import_contacts --progress`: the bar is drawn on any output when asked for, and
otherwise only on a terminal (the command's own stream decides)."""

from __future__ import annotations

import io
import re

from django.core.management import call_command
from django_tenants.utils import tenant_context

from apps.contacts.models import Contact
from apps.contacts.services.import_staging import COPY_CHUNK_ROWS

# One drawing of the bar: "\r[####......] 66%  40,000 rows  ..."
BAR = re.compile(r"\r\[[#.]+\]\s+(\d+)%\s+([\d,]+) rows")


def test_progress_flag_draws_the_bar_per_chunk_when_output_is_not_a_terminal(alpha, tmp_path):
    # Two and a half COPY chunks: the bar moves after each chunk, then once more when done.
    rows = COPY_CHUNK_ROWS * 5 // 2
    path = tmp_path / "many.csv"
    path.write_text("Phone\n" + "".join(f"+91987{n:07d}\n" for n in range(rows)))
    plain, forced = io.StringIO(), io.StringIO()

    call_command("import_contacts", str(path), tenant="alpha", stdout=plain)
    call_command("import_contacts", str(path), tenant="alpha", progress=True, stdout=forced)

    def bars(output: str) -> list[tuple[int, int]]:
        return [(int(p), int(r.replace(",", ""))) for p, r in BAR.findall(output)]

    drawn = bars(forced.getvalue())
    assert [processed for _, processed in drawn] == [COPY_CHUNK_ROWS, 2 * COPY_CHUNK_ROWS, rows, rows]
    assert [percent for percent, _ in drawn] == sorted(percent for percent, _ in drawn)
    assert drawn[-1][0] == 100 and all(percent < 100 for percent, _ in drawn[:-1])
    assert f"{rows} rows in " in forced.getvalue()
    assert f"0 created, 0 updated, {rows} unchanged, 0 skipped, 0 duplicates, 0 errors" in forced.getvalue()
    # Without the flag a non-terminal gets only the finished bar and the summary.
    assert bars(plain.getvalue()) == [(100, rows)]
    assert f"{rows} created, 0 updated, 0 unchanged, 0 skipped, 0 duplicates, 0 errors" in plain.getvalue()
    with tenant_context(alpha.tenant):
        assert Contact.objects.count() == rows
