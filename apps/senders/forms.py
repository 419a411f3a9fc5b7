"""Portal forms for WhatsApp numbers: they check shape; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.senders.models import OptOutKeyword, PacingPreset, SenderProfile
from apps.senders.services.ledger import MAX_BODY_CHARS
from apps.senders.services.profiles import EDITABLE_FIELDS

# Longer than any sensible proxy URL with credentials, short enough to keep the form honest.
PROXY_URL_MAX_LENGTH = 500
# A ramp is a few weeks of daily caps at most.
WARMUP_RAMP_MAX_DAYS = 60


class ProxyUrlField(forms.CharField):
    """A secret: the page never echoes it back (render_value=False)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", PROXY_URL_MAX_LENGTH)
        kwargs.setdefault("strip", True)
        kwargs.setdefault(
            "widget",
            forms.PasswordInput(
                render_value=False,
                attrs={
                    "autocomplete": "off",
                    "spellcheck": "false",
                    "dir": "ltr",
                    "placeholder": "socks5://user:pass@host:1080",
                },
            ),
        )
        super().__init__(**kwargs)


class NumberAddForm(forms.Form):
    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        help_text=_("A name your team recognises, e.g. “Sales India”."),
    )
    proxy_url = ProxyUrlField(
        label=_("Proxy (optional)"),
        help_text=_("http://, https:// or socks5://, with user and password if needed. Stored encrypted."),
    )


class WarmupRampField(forms.CharField):
    """Daily caps for the first days, written "20, 40, 80"; cleaned to a list of ints."""

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return []
        parts = [part for part in text.replace(";", ",").replace(" ", ",").split(",") if part]
        try:
            caps = [int(part) for part in parts]
        except ValueError:
            raise forms.ValidationError(
                _("Write the daily caps as whole numbers separated by commas, e.g. 20, 40, 80."), code="invalid"
            ) from None
        if any(cap <= 0 for cap in caps):
            raise forms.ValidationError(_("Every daily cap must be above zero."), code="invalid")
        if len(caps) > WARMUP_RAMP_MAX_DAYS:
            raise forms.ValidationError(
                _("A warm-up ramp has at most %(days)s days.") % {"days": WARMUP_RAMP_MAX_DAYS}, code="invalid"
            )
        return caps

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(cap) for cap in value)
        return value


class NumberSettingsForm(forms.Form):
    """Everything a tenant may set on a number. The proxy is write-only: empty keeps the current
    one, `clear_proxy` removes it."""

    label = forms.CharField(label=_("Label"), max_length=100)
    pacing_preset = forms.ChoiceField(label=_("Pacing"), choices=PacingPreset.choices)
    pacing_min_s = forms.FloatField(label=_("Custom minimum gap (s)"), min_value=0, max_value=3600)
    pacing_max_s = forms.FloatField(label=_("Custom maximum gap (s)"), min_value=0, max_value=3600)
    batch_size = forms.IntegerField(
        label=_("Pause after every N messages"),
        min_value=0,
        max_value=100_000,
        help_text=_("0 turns batch pauses off."),
    )
    batch_pause_s = forms.IntegerField(label=_("Batch pause (s)"), min_value=0, max_value=86_400)
    daily_cap = forms.IntegerField(label=_("Daily cap"), min_value=0, max_value=100_000)
    warmup_enabled = forms.BooleanField(label=_("Warm up this number"), required=False)
    warmup_started_on = forms.DateField(
        label=_("Warm-up started on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Set when the number first connects; change it to restart the ramp."),
    )
    warmup_ramp = WarmupRampField(
        label=_("Warm-up daily caps"),
        max_length=600,
        help_text=_("Daily caps for the first days, separated by commas; the last one holds until warm-up ends."),
    )
    quiet_hours_start = forms.TimeField(
        label=_("Quiet hours from"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    quiet_hours_end = forms.TimeField(
        label=_("Quiet hours until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("No messages go out between these times, in your workspace's time zone."),
    )
    per_contact_daily_cap = forms.IntegerField(label=_("Messages per contact per day"), min_value=1, max_value=100)
    proxy_url = ProxyUrlField(
        label=_("New proxy"),
        help_text=_("Leave empty to keep the current proxy. http://, https:// or socks5://, stored encrypted."),
    )
    clear_proxy = forms.BooleanField(label=_("Remove the proxy"), required=False)

    # Form fields that are profile settings (the proxy is handled separately).
    SETTINGS = EDITABLE_FIELDS

    @classmethod
    def initial_for(cls, profile: SenderProfile) -> dict[str, Any]:
        return {name: getattr(profile, name) for name in cls.SETTINGS}

    def settings(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.SETTINGS}

    def proxy_change(self) -> str | None:
        """The new proxy URL, "" to remove it, or None to keep what is stored."""
        if self.cleaned_data.get("clear_proxy"):
            return ""
        return self.cleaned_data.get("proxy_url") or None


class NumberTestMessageForm(forms.Form):
    to = forms.CharField(
        label=_("To"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"type": "tel", "dir": "ltr", "autocomplete": "off", "placeholder": "+91 98765 43210"}
        ),
        help_text=_("A number with its country code, or one in your workspace's phone region."),
    )
    text = forms.CharField(
        label=_("Message"),
        max_length=MAX_BODY_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        initial=_("Hello from Chorus! This is a test message."),
    )


class OptOutWordForm(forms.Form):
    word = forms.CharField(
        label=_("Word or phrase"),
        max_length=OptOutKeyword._meta.get_field("word").max_length,
        help_text=_("Matched without regard to case or surrounding punctuation."),
    )
