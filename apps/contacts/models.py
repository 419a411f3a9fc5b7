"""Contacts (tenant schema). The sending engine needs opt-out state; the contacts issue adds
the rest (groups, custom fields, consent, imports)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Contact(models.Model):
    class OptOutVia(models.TextChoices):
        KEYWORD = "keyword", _("Replied with an opt-out word")
        MANUAL = "manual", _("Marked by a team member")
        API = "api", _("Through the API")
        IMPORT = "import", _("Imported as opted out")

    phone = models.CharField(_("phone (E.164)"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    opted_out_reason = models.CharField(_("opt-out reason"), max_length=200, blank=True)
    opted_out_via = models.CharField(_("opted out via"), max_length=16, choices=OptOutVia.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name or self.phone

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None
