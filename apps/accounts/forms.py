"""Forms of the account pages (tenant hosts) and of sign-up (public site). They check input
and give inline, translated errors; the writes happen in apps.accounts.services."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.core.exceptions import Conflict, ValidationFailed
from apps.tenants.models import RESERVED_SLUGS
from apps.tenants.services import validate_slug


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def slug_error(slug: str, exc: ValidationFailed | Conflict) -> str:
    """A translated, inline message for what apps.tenants.services.validate_slug refused."""
    if isinstance(exc, Conflict):
        return _("“%(slug)s” is taken. Choose another workspace address.") % {"slug": slug}
    if slug in RESERVED_SLUGS:
        return _("“%(slug)s” is reserved. Choose another workspace address.") % {"slug": slug}
    return _("3–40 characters: lowercase letters, digits and hyphens, starting with a letter.")


class SlugField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Workspace address"))
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "help_text", format_lazy(_("Your workspace will live at <address>.{domain}"), domain=settings.BASE_DOMAIN)
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        return (super().to_python(value) or "").strip().lower()


class AvailableSlugMixin:
    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        try:
            return validate_slug(slug)
        except (ValidationFailed, Conflict) as exc:
            raise forms.ValidationError(slug_error(slug, exc), code=exc.code) from exc


class SignupForm(AvailableSlugMixin, forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Work e-mail"), max_length=254)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters; not a common or all-numeric password."),
    )
    company_name = forms.CharField(label=_("Company name"), max_length=120)
    slug = SlugField()
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices, initial="UTC")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("An account with this e-mail already exists. Log in to your workspace instead."),
                code="email_taken",
            )
        return email

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            user = User(email=cleaned.get("email", ""), full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class SignupRetryForm(AvailableSlugMixin, forms.Form):
    slug = SlugField()


class WorkspaceLoginForm(forms.Form):
    """The public landing page's "go to my workspace" box."""

    slug = SlugField(help_text="")


class LoginForm(AuthenticationForm):
    """E-mail + password. AuthenticationForm passes the request to authenticate(), which
    django-axes needs to count failures and lock out."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That e-mail and password do not match an account."),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("E-mail")
        self.fields["username"].widget.attrs.update({"autocomplete": "email", "type": "email"})

    def clean_username(self) -> str:
        # Addresses are stored lower-case; people type them any way.
        return self.cleaned_data["username"].strip().lower()


class InvitationSignupForm(forms.Form):
    """For an invitee without an account: the address is the invited one, they add the rest."""

    full_name = forms.CharField(label=_("Your name"), max_length=150)
    password = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters; not a common or all-numeric password."),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            try:
                password_validation.validate_password(
                    password, User(email=self.email, full_name=cleaned.get("full_name", ""))
                )
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class InvitationLoginForm(forms.Form):
    """For an invitee who already has an account: their password proves it is them."""

    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=lambda: [("", _("Same as my browser")), *settings.LANGUAGES],
    )
