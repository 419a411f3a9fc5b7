"""STOP and its common translations. Seeded into the tenant template, so every new tenant
starts with them; tenants edit the list afterwards."""

from django.db import migrations

WORDS = [
    "stop", "unsubscribe", "stop all", "cancel", "end", "quit", "optout", "opt out", "opt-out",
    "बंद", "रोकें", "रुको", "अनसब्सक्राइब",  # Hindi
    "थांबा", "बंद करा",  # Marathi
    "لغو", "توقف", "لغو اشتراک",  # Persian
    "para", "baja", "detener",  # Spanish/Portuguese
    "stopp", "arrêt", "desinscrire",
]


def seed(apps, schema_editor):
    OptOutKeyword = apps.get_model("senders", "OptOutKeyword")
    for word in WORDS:
        OptOutKeyword.objects.get_or_create(word=word)


class Migration(migrations.Migration):
    dependencies = [("senders", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
