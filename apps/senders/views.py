"""Portal pages for WhatsApp numbers and the tenant's opt-out words. Front doors only: check the
form, call one service, render. Everyone in the workspace sees the numbers; owners and admins
add, change, link, log out and delete them; agents and above may send a test message.

Live parts (status badges, the QR code while linking) come over /ws/profiles/
(apps.senders.consumers.ProfilesConsumer) and static/js/numbers.js; the state of a test
message is polled with htmx."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Role
from apps.billing import selectors as billing_selectors
from apps.billing.services import QuotaCode
from apps.core.exceptions import ChorusError, NotFound, QuotaExceeded
from apps.portal.access import has_role, role_required
from apps.senders import selectors
from apps.senders.forms import NumberAddForm, NumberSettingsForm, NumberTestMessageForm, OptOutWordForm
from apps.senders.models import OutboundMessage, SenderProfile
from apps.senders.services import ledger, opt_out_words
from apps.senders.services import profiles as profile_services

logger = logging.getLogger(__name__)

Status = SenderProfile.Status

# Which settings field a service refusal is about, so the error shows next to it.
SETTINGS_ERROR_FIELDS = {
    "invalid_pacing": "pacing_max_s",
    "invalid_warmup": "warmup_ramp",
    "invalid_quiet_hours": "quiet_hours_start",
    "invalid_proxy": "proxy_url",
}
# While linking, the detail page shows the QR panel.
LINKING_STATUSES = frozenset({Status.WAITING_FOR_QR, Status.CONNECTING})
# Re-linking makes sense unless the number is linked or banned.
LINKABLE_STATUSES = frozenset({Status.NEW, Status.WAITING_FOR_QR, Status.LOGGED_OUT, Status.FAILED})
# A session to forget exists (or is being made) in these.
LOGOUT_STATUSES = frozenset(
    {Status.WAITING_FOR_QR, Status.CONNECTING, Status.CONNECTED, Status.RATE_LIMITED, Status.FAILED}
)
# How often the page asks for the state of a test message until it is final.
TEST_MESSAGE_POLL_S = 2


def _status_labels() -> dict[str, str]:
    """Status names in the reader's language, for badges that numbers.js updates live (the
    events carry the status; their label is in whatever language the publisher ran in)."""
    return {value: str(label) for value, label in Status.choices}


def _profile_or_404(profile_id: int) -> SenderProfile:
    try:
        return selectors.profile_detail(profile_id=profile_id)
    except NotFound:
        raise Http404("No such WhatsApp number.") from None


def _plan_limit(request: HttpRequest) -> int | None:
    subscription = billing_selectors.subscription_for(tenant=request.tenant)
    return subscription.plan.max_numbers if subscription is not None else None


def _quota_message(exc: QuotaExceeded) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == QuotaCode.NUMBER_LIMIT and details.get("limit") is not None:
        return _(
            "Your plan allows %(limit)s WhatsApp numbers and this workspace already has %(used)s. "
            "Delete a number or upgrade your plan to add another."
        ) % {"limit": details["limit"], "used": details.get("used")}
    if exc.code == QuotaCode.TENANT_SUSPENDED:
        return _("This workspace is suspended, so no numbers can be added.")
    if exc.code == QuotaCode.SUBSCRIPTION_INACTIVE:
        return _("Your subscription is not active, so no numbers can be added.")
    return exc.message


# --- list and add -----------------------------------------------------------------------------


@login_required
@require_GET
def numbers(request: HttpRequest) -> HttpResponse:
    profiles = list(selectors.profiles_list())
    limit = _plan_limit(request)
    context = {
        "profiles": profiles,
        "plan_limit": limit,
        "at_limit": limit is not None and len(profiles) >= limit,
        "can_manage": has_role(request, Role.ADMIN),
        "status_labels": _status_labels(),
    }
    return render(request, "senders/numbers.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def numbers_add(request: HttpRequest) -> HttpResponse:
    count = selectors.profiles_list().count()
    limit = _plan_limit(request)
    if request.method == "GET":
        return _add_page(request, NumberAddForm(), count=count, limit=limit)
    form = NumberAddForm(request.POST)
    if not form.is_valid():
        return _add_page(request, form, count=count, limit=limit, status=400)
    try:
        profile = profile_services.profile_create(
            label=form.cleaned_data["label"], proxy_url=form.cleaned_data["proxy_url"]
        )
    except QuotaExceeded as exc:
        form.add_error(None, _quota_message(exc))
        return _add_page(request, form, count=count, limit=limit, status=exc.status)
    except ChorusError as exc:
        form.add_error("proxy_url" if exc.code == "invalid_proxy" else None, exc.message)
        return _add_page(request, form, count=count, limit=limit, status=exc.status)
    logger.info("portal.number_added", extra={"profile_id": profile.id, "user_id": request.user.pk})
    messages.success(request, _("Number added. Scan the QR code below with WhatsApp on that phone."))
    return redirect("portal:numbers_detail", profile_id=profile.id)


def _add_page(
    request: HttpRequest, form: NumberAddForm, *, count: int, limit: int | None, status: int = 200
) -> HttpResponse:
    context = {"form": form, "count": count, "plan_limit": limit, "at_limit": limit is not None and count >= limit}
    return render(request, "senders/number_add.html", context, status=status)


# --- one number -------------------------------------------------------------------------------


def _detail_page(
    request: HttpRequest,
    profile: SenderProfile,
    *,
    settings_form: NumberSettingsForm | None = None,
    test_form: NumberTestMessageForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_manage = has_role(request, Role.ADMIN)
    settings_form = settings_form or NumberSettingsForm(initial=NumberSettingsForm.initial_for(profile))
    if not can_manage:
        for field in settings_form.fields.values():
            field.disabled = True
    test_message = None
    message_id = request.GET.get("message", "")
    if message_id.isdigit():
        test_message = selectors.messages_list(profile_id=profile.id).filter(id=int(message_id)).first()
    context = {
        "profile": profile,
        "settings_form": settings_form,
        "test_form": test_form or NumberTestMessageForm(),
        "test_message": test_message,
        "has_proxy": bool(profile.proxy_encrypted),
        "can_manage": can_manage,
        "can_send": has_role(request, Role.AGENT),
        "is_linking": profile.status in LINKING_STATUSES,
        "can_link": profile.status in LINKABLE_STATUSES,
        "can_logout": profile.status in LOGOUT_STATUSES,
        # numbers.js shows and hides the buttons as the status changes live.
        "link_statuses": " ".join(sorted(LINKABLE_STATUSES)),
        "logout_statuses": " ".join(sorted(LOGOUT_STATUSES)),
        "poll_s": TEST_MESSAGE_POLL_S,
        "status_labels": _status_labels(),
    }
    return render(request, "senders/number_detail.html", context, status=status)


@login_required
@require_GET
def numbers_detail(request: HttpRequest, profile_id: int) -> HttpResponse:
    return _detail_page(request, _profile_or_404(profile_id))


@login_required
@require_POST
@role_required(Role.ADMIN)
def numbers_settings(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = _profile_or_404(profile_id)
    form = NumberSettingsForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, profile, settings_form=form, status=400)
    try:
        profile_services.profile_update(profile=profile, proxy_url=form.proxy_change(), **form.settings())
    except ChorusError as exc:
        form.add_error(SETTINGS_ERROR_FIELDS.get(exc.code), exc.message)
        return _detail_page(request, profile, settings_form=form, status=exc.status)
    messages.success(request, _("Settings saved."))
    return redirect("portal:numbers_detail", profile_id=profile.id)


@login_required
@require_POST
@role_required(Role.ADMIN)
def numbers_link(request: HttpRequest, profile_id: int) -> HttpResponse:
    return _profile_action(
        request,
        profile_id,
        profile_services.profile_link,
        _("Linking started. The QR code appears here in a few seconds."),
    )


@login_required
@require_POST
@role_required(Role.ADMIN)
def numbers_logout(request: HttpRequest, profile_id: int) -> HttpResponse:
    return _profile_action(
        request, profile_id, profile_services.profile_logout, _("Logged out. Link the number again to send from it.")
    )


def _profile_action(request: HttpRequest, profile_id: int, service: Callable[..., Any], success: str) -> HttpResponse:
    """Run one profile service for the number's buttons; its refusal or `success` is shown on
    the number's page."""
    profile = _profile_or_404(profile_id)
    try:
        service(profile=profile)
    except ChorusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("portal:numbers_detail", profile_id=profile.id)


@login_required
@require_POST
@role_required(Role.ADMIN)
def numbers_delete(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = _profile_or_404(profile_id)
    label = profile.label
    try:
        profile_services.profile_delete(profile=profile)
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect("portal:numbers_detail", profile_id=profile_id)
    logger.info("portal.number_deleted", extra={"profile_id": profile_id, "user_id": request.user.pk})
    messages.success(request, _("%(label)s was deleted.") % {"label": label})
    return redirect("portal:numbers")


# --- test message -----------------------------------------------------------------------------


@login_required
@require_POST
@role_required(Role.AGENT)
def numbers_test_message(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = _profile_or_404(profile_id)
    form = NumberTestMessageForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, profile, test_form=form, status=400)
    try:
        enqueued = ledger.message_enqueue(
            to=form.cleaned_data["to"],
            text=form.cleaned_data["text"],
            region=request.tenant.default_region,
            profile=profile,
        )
    except ChorusError as exc:
        form.add_error("to" if exc.code == ledger.LedgerError.INVALID_NUMBER else None, exc.message)
        return _detail_page(request, profile, test_form=form, status=exc.status)
    logger.info(
        "portal.test_message_queued",
        extra={"profile_id": profile.id, "message_id": enqueued.message.id, "user_id": request.user.pk},
    )
    url = reverse("portal:numbers_detail", kwargs={"profile_id": profile.id})
    return redirect(f"{url}?message={enqueued.message.id}#test-message")


@login_required
@require_GET
def numbers_message(request: HttpRequest, profile_id: int, message_id: int) -> HttpResponse:
    """The state of one message of this number, as the fragment the detail page polls."""
    message: OutboundMessage | None = selectors.messages_list(profile_id=profile_id).filter(id=message_id).first()
    if message is None:
        raise Http404("No such message.")
    context = {"test_message": message, "profile_id": profile_id, "poll_s": TEST_MESSAGE_POLL_S}
    return render(request, "senders/_test_message_result.html", context)


# --- settings: opt-out words ------------------------------------------------------------------


def _opt_out_page(request: HttpRequest, form: OptOutWordForm | None = None, status: int = 200) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form or OptOutWordForm(),
        "words": selectors.opt_out_words_list(),
        "can_manage": has_role(request, Role.ADMIN),
        "settings_tab": "opt_out",
    }
    return render(request, "senders/settings_opt_out.html", context, status=status)


@login_required
@require_GET
def settings_opt_out(request: HttpRequest) -> HttpResponse:
    """Everyone sees the list; owners and admins change it."""
    return _opt_out_page(request)


@login_required
@require_POST
@role_required(Role.ADMIN)
def settings_opt_out_add(request: HttpRequest) -> HttpResponse:
    form = OptOutWordForm(request.POST)
    if not form.is_valid():
        return _opt_out_page(request, form, status=400)
    try:
        keyword = opt_out_words.opt_out_word_add(word=form.cleaned_data["word"])
    except ChorusError as exc:
        form.add_error("word", exc.message)
        return _opt_out_page(request, form, status=exc.status)
    messages.success(request, _("“%(word)s” added to the opt-out words.") % {"word": keyword.word})
    return redirect("portal:settings_opt_out")


@login_required
@require_POST
@role_required(Role.ADMIN)
def settings_opt_out_remove(request: HttpRequest, word_id: int) -> HttpResponse:
    try:
        opt_out_words.opt_out_word_remove(word_id=word_id)
    except ChorusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Opt-out word removed."))
    return redirect("portal:settings_opt_out")
