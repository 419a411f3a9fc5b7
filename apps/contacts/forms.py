"""Portal forms for contacts: they check shape; the services decide what is allowed."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from apps.contacts.models import GROUP_NAME_MAX_LENGTH, Contact, Group, ImportJob, SavedFilter
from apps.contacts.services.bulk import BULK_ACTION_MAX_CONTACTS
from apps.contacts.services.import_mapping import CUSTOM_KEY, CUSTOM_PREFIX

SEARCH_MAX_LENGTH = 200
# Custom fields on one contact, edited in the portal: enough for any address book.
CUSTOM_FIELDS_MAX = 50
CUSTOM_VALUE_MAX_LENGTH = 500
# Bigint primary keys; larger values are not ids.
ID_MAX = 2**63 - 1

DELIMITER_CHOICES = [
    (",", _("Comma ( , )")),
    (";", _("Semicolon ( ; )")),
    ("\t", _("Tab")),
    ("|", _("Pipe ( | )")),
]


def _group_queryset():
    from apps.contacts.selectors import groups_for_choices

    return groups_for_choices()


class GroupChoiceField(forms.ModelChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("empty_label", _("Choose a group"))
        super().__init__(queryset=Group.objects.none(), **kwargs)


# --- the list -----------------------------------------------------------------------------------


class ContactFilterForm(forms.Form):
    OPTED_OUT_CHOICES = [("", _("Everyone")), ("no", _("Subscribed")), ("yes", _("Opted out"))]

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, number or e-mail"), "autocomplete": "off"}
        ),
    )
    group = GroupChoiceField(label=_("Group or tag"), empty_label=_("All groups"))
    opted_out = forms.ChoiceField(label=_("Opt-out"), required=False, choices=OPTED_OUT_CHOICES)
    saved_filter = forms.ModelChoiceField(
        label=_("Saved filter"), queryset=SavedFilter.objects.none(), required=False, empty_label=_("No saved filter")
    )
    after = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = _group_queryset()
        self.fields["saved_filter"].queryset = SavedFilter.objects.order_by("name")

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for selectors.contacts_list."""
        data = self.cleaned_data
        opted_out = {"yes": True, "no": False}.get(data.get("opted_out") or "")
        group, saved_filter = data.get("group"), data.get("saved_filter")
        return {
            "search": data.get("q") or "",
            "group_id": group.id if group else None,
            "opted_out": opted_out,
            "saved_filter_id": saved_filter.id if saved_filter else None,
        }

    def is_filtered(self) -> bool:
        return any(value not in ("", None) for value in self.filters().values())

    def query(self, **cursor: int | None) -> str:
        """The list's query string for these filters and a page cursor."""
        data = self.cleaned_data
        params: dict[str, Any] = {}
        if data.get("q"):
            params["q"] = data["q"]
        if data.get("group"):
            params["group"] = data["group"].id
        if data.get("opted_out"):
            params["opted_out"] = data["opted_out"]
        if data.get("saved_filter"):
            params["saved_filter"] = data["saved_filter"].id
        params.update({key: value for key, value in cursor.items() if value is not None})
        return urlencode(params)


class IdListField(forms.Field):
    """Checked rows: repeated `contact=<id>` values, cleaned to a list of ints."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        ids = []
        for raw in value:
            text = str(raw)
            if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= ID_MAX:
                raise forms.ValidationError(_("Invalid selection."), code="invalid")
            ids.append(int(text))
        return ids

    def validate(self, value: list[int]) -> None:
        super().validate(value)
        if len(set(value)) > BULK_ACTION_MAX_CONTACTS:
            raise forms.ValidationError(
                _("Select at most %(max)s contacts at a time.") % {"max": BULK_ACTION_MAX_CONTACTS}, code="too_many"
            )


class BulkActionForm(forms.Form):
    ADD_TO_GROUP = "add_to_group"
    REMOVE_FROM_GROUP = "remove_from_group"
    OPT_OUT = "opt_out"
    DELETE = "delete"
    ACTION_CHOICES = [
        (ADD_TO_GROUP, _("Add to group or tag")),
        (REMOVE_FROM_GROUP, _("Remove from group")),
        (OPT_OUT, _("Opt out")),
        (DELETE, _("Delete")),
    ]

    action = forms.ChoiceField(label=_("Action"), choices=ACTION_CHOICES)
    contact = IdListField(error_messages={"required": _("Select at least one contact.")})
    group = GroupChoiceField(label=_("Group"))
    new_group = forms.CharField(
        label=_("or a new tag"),
        required=False,
        max_length=GROUP_NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("New tag name")}),
    )
    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = _group_queryset()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        new_group = " ".join((data.get("new_group") or "").split())
        data["new_group"] = new_group
        if action == self.ADD_TO_GROUP and not data.get("group") and not new_group:
            self.add_error("group", _("Choose a group, or type the name of a new tag."))
        if action == self.REMOVE_FROM_GROUP and not data.get("group"):
            self.add_error("group", _("Choose the group to remove the contacts from."))
        return data


# --- one contact --------------------------------------------------------------------------------


class CustomFieldsField(forms.CharField):
    """Custom fields as "key = value" lines; cleaned to a dict. Keys follow the import's rules
    (they are used in templates as {{custom.key}})."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "placeholder": "city = Pune"})

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        fields: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, raw_value = line.partition("=")
            key = key.strip().lower()
            if not sep or not CUSTOM_KEY.fullmatch(key):
                raise forms.ValidationError(
                    _(
                        "Line %(line)s: write key = value, with a key of lowercase letters, digits and _ "
                        "that starts with a letter."
                    )
                    % {"line": number},
                    code="invalid",
                )
            if len(raw_value.strip()) > CUSTOM_VALUE_MAX_LENGTH:
                raise forms.ValidationError(
                    _("Line %(line)s: values are at most %(max)s characters.")
                    % {"line": number, "max": CUSTOM_VALUE_MAX_LENGTH},
                    code="invalid",
                )
            fields[key] = raw_value.strip()
        if len(fields) > CUSTOM_FIELDS_MAX:
            raise forms.ValidationError(
                _("At most %(max)s custom fields.") % {"max": CUSTOM_FIELDS_MAX}, code="invalid"
            )
        return fields

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{key} = {item}" for key, item in value.items())
        return value


class ContactEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    email = forms.EmailField(label=_("E-mail"), required=False, max_length=254)
    language = forms.CharField(
        label=_("Language"), required=False, max_length=16, help_text=_("Language code, e.g. en, hi, pt-BR.")
    )
    consent_status = forms.ChoiceField(label=_("Consent"), choices=Contact.Consent.choices)
    consent_source = forms.CharField(
        label=_("Consent source"),
        required=False,
        max_length=200,
        help_text=_("Where the contact agreed to hear from you, e.g. “checkout form”."),
    )
    custom_fields = CustomFieldsField(label=_("Custom fields"), required=False)
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups and tags"),
        queryset=Group.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    FIELDS = ("name", "email", "language", "consent_status", "consent_source", "custom_fields")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = _group_queryset()

    @classmethod
    def initial_for(cls, contact: Contact, group_ids: list[int]) -> dict[str, Any]:
        initial = {name: getattr(contact, name) for name in cls.FIELDS}
        initial["groups"] = group_ids
        return initial

    def fields_to_save(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class OptOutForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. asked by phone")}),
    )


# --- imports ------------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV, TSV or Excel (.xlsx) with a header row. Encoding and delimiter are detected."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.xlsx"}),
    )


SKIP = ""
CUSTOM = "custom"
FIELD_CHOICES = [
    (SKIP, _("Don't import")),
    ("phone", _("Phone number")),
    ("name", _("Name")),
    ("email", _("E-mail")),
    ("language", _("Language")),
    ("consent", _("Consent (granted / revoked)")),
    ("opted_out", _("Opted out (yes / no)")),
    ("tags", _("Tags (comma-separated)")),
    (CUSTOM, _("Custom field…")),
]


def custom_key_suggestion(header: str) -> str:
    """A custom field key from a column header: "Home City" → "home_city"."""
    key = slugify(header).replace("-", "_")
    key = re.sub(r"^[^a-z]+", "", key)[:50]
    return key if CUSTOM_KEY.fullmatch(key) else ""


class ImportMappingForm(forms.Form):
    """One select per column of the file (what it feeds), a custom field key where "custom" is
    chosen, and the import's options."""

    mode = forms.ChoiceField(
        label=_("Contacts that already exist"),
        choices=ImportJob.Mode.choices,
        initial=ImportJob.Mode.UPDATE,
        widget=forms.RadioSelect,
    )
    group = GroupChoiceField(label=_("Add everyone to a group"), empty_label=_("No group"))
    new_group = forms.CharField(
        label=_("or a new group"),
        required=False,
        max_length=GROUP_NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("New group name")}),
    )

    def __init__(self, *args: Any, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers = headers
        self.fields["group"].queryset = _group_queryset()
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(label=header, choices=FIELD_CHOICES, required=False)
            self.fields[f"custom_{index}"] = forms.CharField(
                label=_("Custom field name"),
                required=False,
                max_length=50,
                widget=forms.TextInput(
                    attrs={"placeholder": custom_key_suggestion(header) or "city", "spellcheck": "false"}
                ),
            )

    @classmethod
    def initial_for(cls, headers: list[str], mapping: dict[str, str]) -> dict[str, Any]:
        initial: dict[str, Any] = {"mode": ImportJob.Mode.UPDATE}
        for field, column in mapping.items():
            if column not in headers:
                continue
            index = headers.index(column)
            if field.startswith(CUSTOM_PREFIX):
                initial[f"col_{index}"] = CUSTOM
                initial[f"custom_{index}"] = field[len(CUSTOM_PREFIX) :]
            else:
                initial[f"col_{index}"] = field
        return initial

    def columns(self) -> list[dict[str, Any]]:
        """Per column: its header and its two bound fields, for the template."""
        return [
            {"index": index, "header": header, "select": self[f"col_{index}"], "custom": self[f"custom_{index}"]}
            for index, header in enumerate(self.headers)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        mapping: dict[str, str] = {}
        for index, header in enumerate(self.headers):
            choice = data.get(f"col_{index}") or SKIP
            if choice == SKIP:
                continue
            if choice == CUSTOM:
                key = (data.get(f"custom_{index}") or "").strip().lower() or custom_key_suggestion(header)
                if not CUSTOM_KEY.fullmatch(key):
                    self.add_error(
                        f"custom_{index}",
                        _("Use lowercase letters, digits and _, starting with a letter (e.g. city)."),
                    )
                    continue
                field = CUSTOM_PREFIX + key
            else:
                field = choice
            if field in mapping:
                self.add_error(
                    f"col_{index}",
                    _("“%(column)s” already feeds this field; each field takes one column.")
                    % {"column": mapping[field]},
                )
                continue
            mapping[field] = header
        if "phone" not in mapping:
            self.add_error(None, _("Choose the column that holds phone numbers."))
        data["mapping"] = mapping
        data["new_group"] = " ".join((data.get("new_group") or "").split())
        return data


class DelimiterForm(forms.Form):
    delimiter = forms.ChoiceField(label=_("Delimiter"), choices=DELIMITER_CHOICES, required=False)


# --- saved filters ------------------------------------------------------------------------------

RULE_FIELD_CHOICES = [
    ("", _("—")),
    ("name", _("Name")),
    ("email", _("E-mail")),
    ("language", _("Language")),
    ("consent", _("Consent")),
    ("created_at", _("Added")),
    ("custom", _("Custom field…")),
]
RULE_OP_CHOICES = [
    ("eq", _("is")),
    ("ne", _("is not")),
    ("in", _("is one of (comma-separated)")),
    ("contains", _("contains")),
    ("exists", _("is filled in")),
    ("not_exists", _("is empty")),
    ("after", _("on or after")),
    ("before", _("before")),
]
# Blank rule rows offered below the filled ones.
RULE_BLANK_ROWS = 3


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=GROUP_NAME_MAX_LENGTH)
    match = forms.ChoiceField(
        label=_("Contacts must match"),
        choices=[("all", _("all of the rules")), ("any", _("any of the rules"))],
        initial="all",
    )


class FilterRuleForm(forms.Form):
    field = forms.ChoiceField(label=_("Field"), choices=RULE_FIELD_CHOICES, required=False)
    custom_key = forms.CharField(
        label=_("Custom field"), required=False, max_length=100, widget=forms.TextInput(attrs={"placeholder": "city"})
    )
    op = forms.ChoiceField(label=_("Condition"), choices=RULE_OP_CHOICES, required=False)
    value = forms.CharField(label=_("Value"), required=False, max_length=2000)

    def rule(self) -> dict[str, Any] | None:
        """The spec rule of this row, or None for an empty row (the service checks the rest)."""
        data = self.cleaned_data
        field = data.get("field") or ""
        if not field:
            return None
        if field == "custom":
            field = f"custom.{(data.get('custom_key') or '').strip()}"
        op, value = data.get("op") or "eq", (data.get("value") or "").strip()
        if op == "in":
            return {"field": field, "op": op, "value": [part.strip() for part in value.split(",") if part.strip()]}
        if op in ("exists", "not_exists"):
            return {"field": field, "op": op}
        return {"field": field, "op": op, "value": value}

    @staticmethod
    def initial_for(rule: dict[str, Any]) -> dict[str, Any]:
        field = rule.get("field", "")
        value = rule.get("value")
        custom = field.startswith("custom.")
        return {
            "field": "custom" if custom else field,
            "custom_key": field[len("custom.") :] if custom else "",
            "op": rule.get("op", "eq"),
            "value": ", ".join(value) if isinstance(value, list) else (value or ""),
        }


FilterRuleFormSet = forms.formset_factory(FilterRuleForm, extra=0)


def filter_rule_formset(data: Any = None, *, spec: dict[str, Any] | None = None) -> Any:
    rules = (spec or {}).get("rules", [])
    initial = [FilterRuleForm.initial_for(rule) for rule in rules] + [{} for _ in range(RULE_BLANK_ROWS)]
    return FilterRuleFormSet(data, initial=None if data is not None else initial, prefix="rule")
