"""Portal forms: they only check shape; the services decide what is allowed."""

from __future__ import annotations

import zoneinfo
from functools import cache

import phonenumbers
from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Role


@cache
def timezone_choices() -> list[tuple[str, str]]:
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    return [(z, z.replace("_", " ")) for z in zones]


@cache
def region_choices() -> list[tuple[str, str]]:
    regions = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if r != "001")
    return [(r, f"{r} (+{phonenumbers.country_code_for_region(r)})") for r in regions]


def role_choices(*, allow_owner: bool) -> list[tuple[str, str]]:
    return [(value, label) for value, label in Role.choices if allow_owner or value != Role.OWNER]


class GeneralSettingsForm(forms.Form):
    name = forms.CharField(label=_("Workspace name"), max_length=120)
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Quiet hours and daily limits follow this time zone."),
    )
    default_region = forms.ChoiceField(
        label=_("Default phone region"),
        help_text=_("Used to read phone numbers written without a country code."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = timezone_choices()
        self.fields["default_region"].choices = region_choices()


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args, allow_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(allow_owner=allow_owner)
        self.fields["role"].initial = Role.AGENT


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"),
        max_length=100,
        help_text=_("Say where the key is used, e.g. “CRM sync”."),
    )
