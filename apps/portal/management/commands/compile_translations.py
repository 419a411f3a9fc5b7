"""Compile the .po catalogues under LOCALE_PATHS into .mo files with polib (no GNU gettext
needed), refusing translations whose placeholders differ from the source string.

The .mo files are committed, so running the project never needs this; run it after editing a
.po file: `python manage.py compile_translations`.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# %(name)s / %(n)d / %% in python-format strings, {name} in str.format ones.
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%|\{[a-z_]*\}")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


class Command(BaseCommand):
    help = "Compile locale .po files to .mo with polib and check their placeholders."

    def handle(self, *args, **options) -> None:
        try:
            import polib
        except ImportError as exc:  # polib is a development requirement (requirements/dev.txt)
            raise CommandError("polib is not installed; pip install -r requirements/dev.txt") from exc

        problems: list[str] = []
        for locale_path in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_path).glob("*/LC_MESSAGES/*.po")):
                catalogue = polib.pofile(str(po_path))
                for entry in catalogue.translated_entries():
                    translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
                    for translation in translations:
                        if placeholders(translation) != placeholders(entry.msgid):
                            problems.append(f"{po_path}: {entry.msgid!r} -> {translation!r}")
                catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
                self.stdout.write(
                    f"{po_path.parent.parent.name}: {len(catalogue.translated_entries())} translated, "
                    f"{len(catalogue.untranslated_entries())} untranslated, {len(catalogue.fuzzy_entries())} fuzzy"
                )
        if problems:
            raise CommandError("Placeholders differ:\n" + "\n".join(problems))
