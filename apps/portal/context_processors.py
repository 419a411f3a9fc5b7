"""What every portal page needs: the tenant, the user's membership, the navigation."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    key: str
    url_name: str
    label: str | Promise
    icon: str


NAV_ITEMS = (
    NavItem("dashboard", "portal:dashboard", _("Dashboard"), "home"),
    NavItem("numbers", "portal:numbers", _("WhatsApp numbers"), "phone"),
    NavItem("contacts", "portal:contacts", _("Contacts"), "users"),
    NavItem("campaigns", "portal:campaigns", _("Campaigns"), "send"),
    NavItem("templates", "portal:templates", _("Templates"), "file"),
    NavItem("inbox", "portal:inbox", _("Inbox"), "inbox"),
    NavItem("chatbots", "portal:chatbots", _("Chatbots"), "bot"),
    NavItem("analytics", "portal:analytics", _("Analytics"), "chart"),
    NavItem("settings", "portal:settings", _("Settings"), "settings"),
)

# Portal views that belong to the Settings section of the navigation.
SETTINGS_VIEW_PREFIXES = ("settings", "team_", "member_", "invitation_", "api_key")


def _optional_url(name: str) -> str | None:
    """Links to pages other apps own (profile, logout) appear only once those pages exist."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def current_section(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or match.namespace != "portal":
        return ""
    name = match.url_name or ""
    if name.startswith(SETTINGS_VIEW_PREFIXES):
        return "settings"
    # A section's inner pages ("numbers_detail") keep the section ("numbers") highlighted.
    for item in NAV_ITEMS:
        if name.startswith(f"{item.key}_"):
            return item.key
    return name


def portal(request: HttpRequest) -> dict:
    tenant = getattr(request, "tenant", None)
    context = {"tenant": tenant, "membership": getattr(request, "membership", None)}
    if tenant is None or tenant.is_public:
        return context
    section = current_section(request)
    nav = []
    for item in NAV_ITEMS:
        url = _optional_url(item.url_name)
        if url is not None:
            nav.append(
                {"key": item.key, "url": url, "label": item.label, "icon": item.icon, "active": item.key == section}
            )
    context.update(
        {
            "nav_items": nav,
            "section": section,
            "profile_url": _optional_url("accounts:profile"),
            "logout_url": _optional_url("accounts:logout"),
        }
    )
    return context
