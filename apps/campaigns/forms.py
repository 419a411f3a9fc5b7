"""Portal forms of templates and campaigns (the services do the real checks)."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.campaigns.models import (
    CAMPAIGN_PACING_CHOICES,
    TEMPLATE_NAME_MAX_LENGTH,
    Campaign,
    MessageTemplate,
    TemplateCategory,
)
from apps.contacts.models import Group, SavedFilter
from apps.senders.models import MessageState, SenderProfile


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=TEMPLATE_NAME_MAX_LENGTH)
    category = forms.ChoiceField(label=_("Category"), choices=TemplateCategory.choices, initial=TemplateCategory.CUSTOM)
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 6, "data-template-body": ""}),
        help_text=_("Placeholders: {{name}}, {{name|there}} with a fallback, {{custom.city}}; spintax: {Hi|Hello}."),
    )
    media = forms.FileField(label=_("Attachment"), required=False)


class PreviewForm(forms.Form):
    body = forms.CharField(required=False)
    template = forms.IntegerField(required=False, min_value=1)
    contact = forms.IntegerField(label=_("Preview as contact (id)"), required=False, min_value=1)


class RecipientFilterForm(forms.Form):
    """The campaign page's recipient table (and its CSV): which run, which state, which number."""

    run = forms.TypedChoiceField(label=_("Run"), required=False, coerce=int, empty_value=None, choices=[])
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("All states")), *MessageState.choices])
    q = forms.CharField(
        label=_("Number"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Number starts with…"), "dir": "ltr"}),
    )
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, campaign: Campaign | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        runs = list(campaign.runs.order_by("-number").values_list("id", "number")) if campaign else []
        self.fields["run"].choices = [("", _("Latest run")), *[(rid, _("Run %(n)s") % {"n": n}) for rid, n in runs]]

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of selectors.recipients (besides the run)."""
        data = self.cleaned_data if self.is_valid() else {}
        return {"state": data.get("state") or None, "number": (data.get("q") or "").strip()}

    def query(self, **extra: Any) -> str:
        data = self.cleaned_data if self.is_valid() else {}
        params = {key: data.get(key) for key in ("run", "state", "q")}
        params.update(extra)
        return urlencode({key: value for key, value in params.items() if value not in (None, "")})


STOP_FAILURE_RATE_DEFAULT = Campaign._meta.get_field("stop_failure_rate").default
STOP_MIN_SAMPLE_DEFAULT = Campaign._meta.get_field("stop_min_sample").default

WEEKDAY_CHOICES = [
    (0, _("Sunday")),
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
]


class CampaignBuilderForm(forms.Form):
    """Every step of the builder in one form (audience → message → senders and pacing →
    schedule); the service checks the rest when the campaign is created."""

    name = forms.CharField(label=_("Campaign name"), max_length=200)
    # Audience
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups"), queryset=Group.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    audience_all = forms.BooleanField(label=_("All contacts"), required=False)
    saved_filter = forms.ModelChoiceField(
        label=_("Saved filter"),
        queryset=SavedFilter.objects.none(),
        required=False,
        empty_label=_("No saved filter"),
        help_text=_("Narrows the groups above, or picks from all contacts when no group is chosen."),
    )
    audience_file = forms.FileField(
        label=_("Or upload a list"),
        required=False,
        help_text=_(
            "CSV, TSV or Excel with a phone column. It is imported into a new group for this campaign; "
            "bad rows are reported on the import's page."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.xlsx"}),
    )
    # Message
    template = forms.ModelChoiceField(
        label=_("Template"), queryset=MessageTemplate.objects.none(), required=False, empty_label=_("No template")
    )
    body = forms.CharField(
        label=_("Or write the text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "data-template-body": ""}),
        help_text=_("Placeholders: {{name}}, {{name|there}} with a fallback, {{custom.city}}; spintax: {Hi|Hello}."),
    )
    # Senders and pacing
    profiles = forms.ModelMultipleChoiceField(
        label=_("WhatsApp numbers"), queryset=SenderProfile.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    rotation = forms.ChoiceField(
        label=_("Rotation"),
        choices=Campaign.Rotation.choices,
        help_text=_("Weighted: each number sends its share (the weights next to the numbers)."),
    )
    pacing_override = forms.ChoiceField(
        label=_("Pacing"), required=False, choices=[("", _("Each number's own pacing")), *CAMPAIGN_PACING_CHOICES]
    )
    # Schedule
    schedule = forms.ChoiceField(label=_("When"), choices=Campaign.Schedule.choices, initial=Campaign.Schedule.NOW)
    scheduled_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    send_time = forms.TimeField(
        label=_("Time of day"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"), required=False, coerce=int, choices=WEEKDAY_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    day_of_month = forms.IntegerField(
        label=_("Day of the month"),
        required=False,
        min_value=1,
        max_value=28,
        help_text=_("1–28, so that it comes every month."),
    )
    # Stop rules
    stop_failure_percent = forms.IntegerField(
        label=_("Pause when more than this share fails (%)"),
        min_value=1,
        max_value=100,
        required=False,
        initial=round(STOP_FAILURE_RATE_DEFAULT * 100),
    )
    stop_min_sample = forms.IntegerField(
        label=_("…once at least this many were sent"),
        min_value=1,
        max_value=1_000_000,
        required=False,
        initial=STOP_MIN_SAMPLE_DEFAULT,
    )
    stop_on_ban = forms.BooleanField(label=_("Pause when a number is banned"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = Group.objects.order_by("name")
        self.fields["template"].queryset = MessageTemplate.objects.order_by("name")
        self.fields["saved_filter"].queryset = SavedFilter.objects.order_by("name")
        profiles = SenderProfile.objects.order_by("label")
        self.fields["profiles"].queryset = profiles
        # One weight per number (used by weighted rotation), rendered next to its checkbox.
        self.weight_fields: dict[int, str] = {}
        for profile in profiles:
            key = f"weight_{profile.pk}"
            self.fields[key] = forms.IntegerField(
                label=_("Weight of %(number)s") % {"number": profile.label or profile.pk},
                min_value=1,
                max_value=1000,
                initial=1,
                required=False,
                widget=forms.NumberInput(attrs={"class": "input-weight", "inputmode": "numeric"}),
            )
            self.weight_fields[profile.pk] = key

    def profile_choices(self) -> list[tuple[Any, Any]]:
        """(checkbox, weight field) per number, for the template."""
        weights = {str(pk): self[key] for pk, key in self.weight_fields.items()}
        return [(choice, weights.get(str(choice.data["value"]))) for choice in self["profiles"]]

    def clean_scheduled_at(self) -> datetime.datetime | None:
        # The time as typed is the workspace's local time (the service applies its time zone).
        value = self.cleaned_data.get("scheduled_at")
        return timezone.make_naive(value) if value is not None and timezone.is_aware(value) else value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        chosen = data.get("groups") or data.get("audience_all") or data.get("saved_filter") or data.get("audience_file")
        if not chosen:
            self.add_error("groups", _("Choose at least one group, all contacts, a saved filter or upload a list."))
        if not data.get("template") and not (data.get("body") or "").strip():
            self.add_error("body", _("Choose a template or write the text."))
        return data

    def service_values(self) -> dict[str, Any]:
        """Keyword arguments of campaigns.campaign_create (without the senders)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "groups": list(data["groups"]),
            "audience_all": data["audience_all"],
            "saved_filter": data["saved_filter"],
            "template": data["template"],
            "body": "" if data["template"] else data["body"],
            "rotation": data["rotation"],
            "pacing_override": data["pacing_override"] or "",
            "schedule": data["schedule"],
            "scheduled_at": data["scheduled_at"],
            "send_time": data["send_time"],
            "weekdays": list(data["weekdays"] or []),
            "day_of_month": data["day_of_month"],
            # Left empty: the defaults the form showed.
            "stop_failure_rate": (data["stop_failure_percent"] or round(STOP_FAILURE_RATE_DEFAULT * 100)) / 100,
            "stop_min_sample": data["stop_min_sample"] or STOP_MIN_SAMPLE_DEFAULT,
            "stop_on_ban": data["stop_on_ban"],
        }

    def sender_weights(self) -> list[tuple[SenderProfile, int]]:
        """The chosen numbers with their weights (1 when left empty)."""
        data = self.cleaned_data
        return [(profile, data.get(self.weight_fields.get(profile.pk, ""), None) or 1) for profile in data["profiles"]]
