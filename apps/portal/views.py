"""Customer portal pages on tenant hosts. Front doors only: check the form, call one service,
render. Membership in the tenant is enforced before any of this by
apps.accounts.middleware.TenantMembershipMiddleware; the role checks live here."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Role
from apps.accounts.services import api_keys as api_key_services
from apps.accounts.services import invitations as invitation_services
from apps.accounts.services import members as member_services
from apps.core.exceptions import ChorusError
from apps.portal import selectors
from apps.portal.access import forbidden, has_role, role_required
from apps.portal.forms import ApiKeyCreateForm, GeneralSettingsForm, InviteForm, MemberRoleForm, role_choices
from apps.tenants import services as tenant_services

View = Callable[..., HttpResponse]


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- dashboard and placeholders ---------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if _is_htmx(request):
        # The usage card refreshes itself; send only its fragment.
        usage = selectors.dashboard_usage(tenant=request.tenant)
        response = render(request, "portal/_usage.html", {"usage": usage})
    else:
        board = selectors.dashboard(tenant=request.tenant)
        context = {"usage": board.usage, "subscription": board.subscription, "steps": board.steps}
        response = render(request, "portal/dashboard.html", context)
    # One URL, two bodies: caches (and the back button) must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


# What each not-yet-built section will do, so the page is honest and still useful.
PLACEHOLDERS: dict[str, tuple[str, str]] = {
    "inbox": (
        gettext_lazy("Inbox"),
        gettext_lazy("Read and answer replies from all your numbers in one shared inbox."),
    ),
    "chatbots": (
        gettext_lazy("Chatbots"),
        gettext_lazy("Answer common questions automatically with keyword-triggered replies."),
    ),
}


@login_required
@require_GET
def placeholder(request: HttpRequest, section: str) -> HttpResponse:
    title, description = PLACEHOLDERS[section]
    return render(request, "portal/placeholder.html", {"page_title": title, "description": description})


# --- settings: general ------------------------------------------------------------------------


def _general_initial(tenant) -> dict[str, str]:
    return {"name": tenant.name, "timezone": tenant.timezone, "default_region": tenant.default_region}


@login_required
@require_GET
def settings_index(request: HttpRequest) -> HttpResponse:
    return redirect("portal:settings_general")


@login_required
@require_http_methods(["GET", "POST"])
def settings_general(request: HttpRequest) -> HttpResponse:
    """Everyone in the workspace may read these settings; owners and admins change them."""
    if request.method == "GET":
        return _render_general(request, GeneralSettingsForm(initial=_general_initial(request.tenant)))
    if not has_role(request, Role.ADMIN):
        return forbidden(request, "settings_general")
    form = GeneralSettingsForm(request.POST)
    if not form.is_valid():
        return _render_general(request, form, status=400)
    try:
        tenant_services.tenant_update(tenant=request.tenant, **form.cleaned_data)
    except ChorusError as exc:
        for field, errors in (exc.details or {}).items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return _render_general(request, form, status=400)
    messages.success(request, _("Workspace settings saved."))
    return redirect("portal:settings_general")


def _render_general(request: HttpRequest, form: GeneralSettingsForm, status: int = 200) -> HttpResponse:
    can_edit = request.membership.has_role(Role.ADMIN)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    context = {"form": form, "can_edit": can_edit, "settings_tab": "general"}
    return render(request, "portal/settings_general.html", context, status=status)


# --- settings: team ---------------------------------------------------------------------------


def _team_context(request: HttpRequest, invite_form: InviteForm | None = None) -> dict:
    membership = request.membership
    can_manage = membership.has_role(Role.ADMIN)
    is_owner = membership.role == Role.OWNER
    members = list(selectors.team_members(tenant=request.tenant))
    owners = sum(1 for member in members if member.role == Role.OWNER)
    for member in members:
        # An admin may not touch owners; the last owner stays (the service refuses it anyway).
        member.is_last_owner = member.role == Role.OWNER and owners == 1
        member.manageable = can_manage and (is_owner or member.role != Role.OWNER) and not member.is_last_owner
        member.is_self = member.pk == membership.pk
    return {
        "members": members,
        "invitations": selectors.pending_invitations(tenant=request.tenant) if can_manage else [],
        "invite_form": invite_form or InviteForm(allow_owner=is_owner),
        "role_options": role_choices(allow_owner=is_owner),
        "can_manage": can_manage,
        "settings_tab": "team",
    }


@login_required
@require_GET
def settings_team(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/settings_team.html", _team_context(request))


@login_required
@require_POST
@role_required(Role.ADMIN)
def team_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, allow_owner=request.membership.role == Role.OWNER)
    if form.is_valid():
        try:
            created = invitation_services.invitation_create(
                tenant=request.tenant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except ChorusError as exc:
            field = (exc.details or {}).get("field") if isinstance(exc.details, dict) else None
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": created.invitation.email})
            return redirect("portal:settings_team")
    return render(request, "portal/settings_team.html", _team_context(request, invite_form=form), status=400)


@login_required
@require_POST
@role_required(Role.ADMIN)
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("portal:settings_team")
    try:
        changed = member_services.member_change_role(
            tenant=request.tenant,
            actor=request.membership,
            membership_id=membership_id,
            role=form.cleaned_data["role"],
        )
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect("portal:settings_team")
    messages.success(
        request,
        _("%(email)s is now %(role)s.") % {"email": changed.user.email, "role": Role(changed.role).label},
    )
    return redirect("portal:settings_team")


@login_required
@require_POST
@role_required(Role.ADMIN)
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    try:
        member_services.member_remove(tenant=request.tenant, actor=request.membership, membership_id=membership_id)
    except ChorusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Member removed."))
    if membership_id == request.membership.pk:
        # They removed themselves: this workspace is no longer theirs to see.
        return redirect("accounts:login")
    return redirect("portal:settings_team")


@login_required
@require_POST
@role_required(Role.ADMIN)
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        invitation_services.invitation_revoke(tenant=request.tenant, invitation_id=invitation_id)
    except ChorusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect("portal:settings_team")


# --- settings: API keys -----------------------------------------------------------------------


def _api_keys_page(
    request: HttpRequest, *, form: ApiKeyCreateForm | None = None, created=None, status: int = 200
) -> HttpResponse:
    context = {
        "form": form or ApiKeyCreateForm(),
        "api_keys": selectors.api_keys(tenant=request.tenant),
        "plan_has_api": selectors.plan_has_api(tenant=request.tenant),
        "created": created,
        "settings_tab": "api_keys",
    }
    response = render(request, "portal/settings_api_keys.html", context, status=status)
    if created is not None:
        # The secret is on this page and nowhere else: keep it out of every cache.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def settings_api_keys(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _api_keys_page(request)
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return _api_keys_page(request, form=form, status=400)
    try:
        created = api_key_services.api_key_create(
            tenant=request.tenant, name=form.cleaned_data["name"], created_by=request.user
        )
    except ChorusError as exc:
        form.add_error(None, exc.message)
        return _api_keys_page(request, form=form, status=exc.status)
    return _api_keys_page(request, created=created)


@login_required
@require_POST
@role_required(Role.ADMIN)
def api_key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    try:
        api_key_services.api_key_revoke(tenant=request.tenant, api_key_id=api_key_id)
    except ChorusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("API key revoked. Requests using it are refused from now on."))
    return redirect("portal:settings_api_keys")
