"""The template renderer: placeholders, fallbacks, custom fields, nested spintax chosen per seed,
and a clear error for unknown placeholders."""

from __future__ import annotations

import pytest

from apps.campaigns import rendering
from apps.core.exceptions import ValidationFailed


def render(body: str, contact: dict, seed: int = 0) -> str:
    return rendering.template_compile(body).render_contact(contact, seed)


def test_placeholders_take_the_contacts_values():
    contact = {"name": "Asha Patel", "phone": "+919876543210", "email": "asha@example.com", "language": "hi"}

    text = render("{{name}} / {{first_name}} / {{phone}} / {{email}} / {{language}}", contact)

    assert text == "Asha Patel / Asha / +919876543210 / asha@example.com / hi"


def test_fallbacks_fill_empty_and_missing_values_and_spaces_are_ignored():
    body = "Hi {{ name | there }}, from {{custom.city|your city}}{{email}}!"

    assert render(body, {"name": "  ", "custom": {}}) == "Hi there, from your city!"
    assert render(body, {"name": "Ravi", "custom": {"city": "Pune"}}) == "Hi Ravi, from Pune!"


def test_custom_fields_are_read_by_key():
    body = "Order {{custom.order_id}} ships to {{custom.city}} ({{ custom.pin code }})"

    text = render(body, {"custom": {"order_id": 1042, "city": "Kochi", "pin code": "682001"}})

    assert text == "Order 1042 ships to Kochi (682001)"
    assert rendering.template_compile(body).fields == ("custom.order_id", "custom.city", "custom.pin code")


def test_spintax_picks_one_option_deterministically_per_seed():
    body = "{Hi|Hello|Hey} {{name}}"
    texts = {seed: render(body, {"name": "Meera"}, seed) for seed in range(200)}

    assert set(texts.values()) == {"Hi Meera", "Hello Meera", "Hey Meera"}
    assert all(render(body, {"name": "Meera"}, seed) == text for seed, text in texts.items())


def test_nested_spintax_renders_only_real_combinations():
    body = "{Hi|{Good morning|Good evening} {dear|}} {{name|friend}}"
    seen = {render(body, {}, seed) for seed in range(500)}

    assert seen == {"Hi friend", "Good morning dear friend", "Good evening dear friend", "Good morning  friend",
                    "Good evening  friend"}  # fmt: skip


def test_the_seed_of_a_recipient_is_stable_and_differs_between_campaigns():
    assert rendering.recipient_seed(7, "+919876543210") == rendering.recipient_seed(7, "+919876543210")
    assert rendering.recipient_seed(7, "+919876543210") != rendering.recipient_seed(8, "+919876543210")


def test_braces_without_alternatives_unclosed_braces_and_escapes_stay_text():
    body = r"Use {SAVE10} at {{name}}'s \{shop\} \| 10% off {unclosed"

    assert render(body, {"name": "Kabir"}) == "Use {SAVE10} at Kabir's {shop} | 10% off {unclosed"


def test_unknown_placeholders_are_refused_before_anything_is_sent_and_listed():
    with pytest.raises(ValidationFailed) as refused:
        rendering.template_validate("Hi {{nmae}}, {{custom.city}} {{ phone_number }} {{}} {{nmae}}")

    assert refused.value.code == "unknown_placeholder"
    assert refused.value.details["unknown"] == ["{{nmae}}", "{{ phone_number }}", "{{}}"]
    assert "{{nmae}}, {{ phone_number }}, {{}}" in refused.value.message


def test_empty_and_too_long_templates_are_refused():
    with pytest.raises(ValidationFailed) as empty:
        rendering.template_validate("   ")
    with pytest.raises(ValidationFailed) as long:
        rendering.template_validate("x" * 4097)

    assert (empty.value.code, long.value.code) == ("template_empty", "template_too_long")


def test_spintax_nested_too_deep_is_refused():
    with pytest.raises(ValidationFailed) as deep:
        rendering.template_validate("{a|" * 12 + "b" + "}" * 12)

    assert deep.value.code == "spintax_too_deep"


def test_template_text_never_becomes_code():
    body = "{{name|'); import os; ('}} __import__('os') {a|\"b\"}"

    assert render(body, {}, seed=1) in {
        "'); import os; (' __import__('os') a",
        "'); import os; (' __import__('os') \"b\"",
    }


def test_values_come_from_sql_in_field_order():
    compiled = rendering.template_compile("{{custom.city}} {{name|you}} {{custom.city}}")

    assert compiled.fields == ("custom.city", "name")
    assert compiled.render(("Pune", None)) == "Pune you Pune"
    assert rendering.field_sql("custom.city") == ("NULLIF(btrim(c.custom_fields ->> %s), '')", ["city"])
