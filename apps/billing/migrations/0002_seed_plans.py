"""Seed the three plans the product launches with; admins edit them afterwards."""

from decimal import Decimal

from django.db import migrations

PLANS = [
    dict(
        slug="free",
        name="Free",
        price=Decimal("0"),
        max_numbers=1,
        messages_per_day=50,
        messages_per_month=1500,
        max_contacts=1000,
        feature_chatbots=False,
        feature_api=False,
        sort_order=1,
    ),
    dict(
        slug="pro",
        name="Pro",
        price=Decimal("29"),
        max_numbers=3,
        messages_per_day=250,
        messages_per_month=7500,
        max_contacts=25000,
        feature_chatbots=True,
        feature_api=False,
        sort_order=2,
    ),
    dict(
        slug="business",
        name="Business",
        price=Decimal("99"),
        max_numbers=10,
        messages_per_day=1000,
        messages_per_month=30000,
        max_contacts=250000,
        feature_chatbots=True,
        feature_api=True,
        sort_order=3,
    ),
]


def seed(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    Plan = apps.get_model("billing", "Plan")
    for plan in PLANS:
        Plan.objects.update_or_create(slug=plan["slug"], defaults=plan)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
