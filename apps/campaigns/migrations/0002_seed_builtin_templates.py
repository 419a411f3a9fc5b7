"""A few ready-made templates, one per category. Seeded into the tenant template, so every new
tenant starts with them; tenants edit or delete them afterwards (`is_builtin` marks them)."""

from django.db import migrations

TEMPLATES = [
    (
        "Order shipped",
        "order",
        "{Hi|Hello} {{first_name|there}}, your order is on its way! We'll message you again when it "
        "is out for delivery. Reply STOP to opt out.",
    ),
    (
        "Appointment reminder",
        "reminder",
        "{Hi|Hello} {{first_name|there}}, a friendly reminder of your appointment tomorrow. Reply YES "
        "to confirm or call us to change it. Reply STOP to opt out.",
    ),
    (
        "Seasonal offer",
        "promo",
        "{Hi|Hey} {{first_name|there}}! {Our|This week's} offer is here: 20% off everything until "
        "Sunday. {See you soon|Hope to see you}! Reply STOP to opt out.",
    ),
    (
        "Feedback request",
        "feedback",
        "{Hi|Hello} {{first_name|there}}, thank you for choosing us. How did we do? Reply with a "
        "number from 1 (poor) to 5 (great). Reply STOP to opt out.",
    ),
    (
        "Simple message",
        "custom",
        "Hello {{name|there}}, thank you for being with us. Reply STOP to opt out.",
    ),
]


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("campaigns", "MessageTemplate")
    for name, category, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            name=name, defaults={"category": category, "body": body, "is_builtin": True}
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
