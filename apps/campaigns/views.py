"""Portal pages of message templates and campaigns. Front doors only: check the form, call the
same services and selectors as apps.campaigns.api.views, render.

Roles match the campaigns API: every member reads templates, campaigns, their progress and
recipients, previews texts and downloads the recipients CSV; agents and up create and change
templates and start, pause, resume and cancel campaigns; owners and admins delete templates.
Live progress comes over /ws/campaigns/<id>/ (apps.campaigns.consumers) and static/js/campaigns.js.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Role
from apps.campaigns import analytics, rendering, selectors
from apps.campaigns.forms import CampaignBuilderForm, PreviewForm, RecipientFilterForm, TemplateForm
from apps.campaigns.models import Campaign, MessageTemplate, TemplateCategory
from apps.campaigns.services import campaigns as campaign_services
from apps.campaigns.services import lifecycle, lists
from apps.campaigns.services import templates as template_services
from apps.campaigns.services.errors import CampaignError
from apps.contacts import selectors as contact_selectors
from apps.contacts.models import ImportJob
from apps.contacts.spreadsheets import row_neutralise
from apps.core.exceptions import ChorusError, NotFound
from apps.portal.access import forbidden, has_role, role_required
from apps.senders.models import MessageState

logger = logging.getLogger(__name__)

RECIPIENTS_PAGE_SIZE = 50
PREVIEW_CONTACTS_LIMIT = 200
RECIPIENT_CSV_HEADER = [
    "message",
    "contact",
    "to",
    "profile",
    "state",
    "text",
    "error_code",
    "error_detail",
    "queued_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
]


def _template_or_404(template_id: int) -> MessageTemplate:
    try:
        return template_services.template_get(template_id=template_id)
    except NotFound:
        raise Http404("No such template.") from None


def _campaign_or_404(campaign_id: int) -> Campaign:
    try:
        return selectors.campaign_detail(campaign_id=campaign_id)
    except NotFound:
        raise Http404("No such campaign.") from None


def _form_error(form: TemplateForm, exc: ChorusError) -> None:
    details = exc.details if isinstance(exc.details, dict) else {}
    if "unknown" in details:
        form.add_error("body", exc.message)
    elif exc.code == CampaignError.TEMPLATE_EXISTS:
        form.add_error("name", exc.message)
    elif "media" in details:
        form.add_error("media", exc.message)
    else:
        form.add_error(None, exc.message)


# --- templates ----------------------------------------------------------------------------------


@login_required
@require_GET
def templates(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("category") or None
    if category not in {value for value, _label in TemplateCategory.choices}:
        category = None
    rows = list(selectors.templates_list(category=category))
    groups = [
        (value, label, [template for template in rows if template.category == value])
        for value, label in TemplateCategory.choices
    ]
    context = {
        "groups": [group for group in groups if group[2]],
        "categories": TemplateCategory.choices,
        "category": category,
        "can_edit": has_role(request, Role.AGENT),
        "total": len(rows),
    }
    return render(request, "campaigns/templates.html", context)


def _template_page(
    request: HttpRequest, form: TemplateForm, template: MessageTemplate | None, status: int = 200
) -> HttpResponse:
    can_edit = has_role(request, Role.AGENT)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "form": form,
        "template": template,
        "can_edit": can_edit,
        "can_delete": template is not None and has_role(request, Role.ADMIN),
        "preview_contacts": selectors.preview_contacts(limit=PREVIEW_CONTACTS_LIMIT),
    }
    return render(request, "campaigns/template_form.html", context, status=status)


@login_required
@role_required(Role.AGENT)
@require_http_methods(["GET", "POST"])
def templates_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _template_page(request, TemplateForm(), None)
    form = TemplateForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            template = template_services.template_create(
                name=data["name"], body=data["body"], category=data["category"], media=data.get("media")
            )
        except ChorusError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
            return redirect("portal:templates_detail", template_id=template.id)
    return _template_page(request, form, None, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def templates_detail(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template_or_404(template_id)
    if request.method == "GET":
        initial = {"name": template.name, "category": template.category, "body": template.body}
        return _template_page(request, TemplateForm(initial=initial), template)
    if not has_role(request, Role.AGENT):
        return forbidden(request, "templates_detail")
    form = TemplateForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            template_services.template_update(
                template=template,
                media=data.get("media"),
                name=data["name"],
                body=data["body"],
                category=data["category"],
            )
        except ChorusError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
            return redirect("portal:templates_detail", template_id=template.id)
    return _template_page(request, form, template, status=400)


@login_required
@role_required(Role.ADMIN)
@require_POST
def templates_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template_or_404(template_id)
    try:
        template_services.template_delete(template=template)
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect("portal:templates_detail", template_id=template_id)
    messages.success(request, _("Template deleted."))
    return redirect("portal:templates")


@login_required
@require_POST
def templates_preview(request: HttpRequest) -> HttpResponse:
    """HTMX partial: the text as the chosen contact (or an empty sample) would receive it."""
    form = PreviewForm(request.POST)
    context: dict[str, Any] = {"preview": None, "error": None, "unknown": []}
    if not form.is_valid():
        context["error"] = _("Choose a contact from the list.")
        return render(request, "campaigns/_preview.html", context)
    body = form.cleaned_data["body"] or ""
    if not body.strip() and form.cleaned_data["template"]:
        template = MessageTemplate.objects.filter(id=form.cleaned_data["template"]).first()
        body = template.body if template is not None else ""
    try:
        context["preview"] = template_services.template_preview(body=body, contact_id=form.cleaned_data["contact"])
    except ChorusError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        context.update(error=exc.message, unknown=details.get("unknown", []), code=exc.code)
    return render(request, "campaigns/_preview.html", context)


# --- campaigns ----------------------------------------------------------------------------------


@login_required
@require_GET
def campaigns(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or None
    if state not in {value for value, _label in Campaign.State.choices}:
        state = None
    context = {
        "campaigns": list(selectors.campaigns_list(state=state)),
        "states": Campaign.State.choices,
        "state": state,
        "can_edit": has_role(request, Role.AGENT),
    }
    return render(request, "campaigns/campaigns.html", context)


ACTIONS: dict[str, Callable[[Campaign], Any]] = {
    "start": lambda campaign: lifecycle.campaign_start(campaign=campaign),
    "schedule": lambda campaign: campaign_services.campaign_schedule(campaign=campaign),
    "unschedule": lambda campaign: campaign_services.campaign_unschedule(campaign=campaign),
    "pause": lambda campaign: lifecycle.campaign_pause(campaign=campaign),
    "resume": lambda campaign: lifecycle.campaign_resume(campaign=campaign),
    "cancel": lambda campaign: lifecycle.campaign_cancel(campaign=campaign),
}
ACTION_DONE = {
    "start": gettext_lazy("Campaign started."),
    "schedule": gettext_lazy("Campaign scheduled."),
    "unschedule": gettext_lazy("Campaign back to draft."),
    "pause": gettext_lazy("Campaign paused."),
    "resume": gettext_lazy("Campaign resumed."),
    "cancel": gettext_lazy("Campaign cancelled."),
}
ACTION_LABELS = {
    "start": gettext_lazy("Start now"),
    "schedule": gettext_lazy("Schedule"),
    "unschedule": gettext_lazy("Back to draft"),
    "pause": gettext_lazy("Pause"),
    "resume": gettext_lazy("Resume"),
    "cancel": gettext_lazy("Cancel campaign"),
}


def _available_actions(campaign: Campaign) -> list[str]:
    """The buttons that make sense in the campaign's state (the services refuse the rest)."""
    state = campaign.state
    if state == Campaign.State.DRAFT:
        return ["start", "cancel"] if campaign.schedule == Campaign.Schedule.NOW else ["schedule", "start", "cancel"]
    if state == Campaign.State.SCHEDULED:
        return ["start", "unschedule", "cancel"]
    if state == Campaign.State.RUNNING:
        return ["pause", "cancel"]
    if state == Campaign.State.PAUSED:
        return ["resume", "cancel"]
    return []


@login_required
@require_GET
def campaigns_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    form = RecipientFilterForm(request.GET, campaign=campaign)
    if not form.is_valid():
        form = RecipientFilterForm({}, campaign=campaign)
        form.is_valid()
    state = form.cleaned_data.get("state") or None
    after = form.cleaned_data.get("after") or 0
    stats = selectors.campaign_stats(campaign=campaign)
    shown_run = selectors.campaign_run(campaign=campaign, run_id=form.cleaned_data.get("run")) or stats.run
    rows = selectors.recipients(run=shown_run, **form.filters()).order_by("id").filter(id__gt=after)
    page = list(rows[: RECIPIENTS_PAGE_SIZE + 1])
    has_more = len(page) > RECIPIENTS_PAGE_SIZE
    page = page[:RECIPIENTS_PAGE_SIZE]
    progress = stats.progress.get("run") or {}
    recipients_total = progress.get("recipients") or 0
    labels = dict(MessageState.choices)
    throughput = analytics.campaign_throughput(run=stats.run)
    context = {
        "chart_data": {
            "throughput": {
                "labels": throughput.labels,
                "sent": throughput.sent,
                "failed": throughput.failed,
                "bucket": throughput.bucket,
            },
            "states": {
                "labels": [str(labels.get(key, key)) for key in sorted(progress.get("counts") or {})],
                "values": [value for _key, value in sorted((progress.get("counts") or {}).items())],
            },
            "names": {"sent": _("Sent"), "failed": _("Failed"), "messages": _("Messages")},
        },
        "campaign": campaign,
        "stats": stats,
        "progress": progress,
        "counts": [(key, labels.get(key, key), value) for key, value in sorted((progress.get("counts") or {}).items())],
        "done_percent": round(100 * progress.get("done", 0) / recipients_total) if recipients_total else 0,
        "recipients": page,
        "state": state,
        "recipient_form": form,
        "recipient_query": form.query(),
        "next_query": form.query(after=page[-1].id) if has_more and page else "",
        "shown_run": shown_run,
        "state_choices": MessageState.choices,
        "next_after": page[-1].id if has_more and page else None,
        "actions": _available_actions(campaign) if has_role(request, Role.AGENT) else [],
        "action_labels": ACTION_LABELS,
        "labels": labels,
    }
    return render(request, "campaigns/campaign_detail.html", context)


@login_required
@role_required(Role.AGENT)
@require_POST
def campaigns_action(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    campaign = _campaign_or_404(campaign_id)
    try:
        ACTIONS[action](campaign)
    except ChorusError as exc:
        messages.error(request, exc.message)
    else:
        logger.info("portal.campaign_action", extra={"campaign_id": campaign.id, "action": action})
        messages.success(request, ACTION_DONE[action])
    return redirect("portal:campaigns_detail", campaign_id=campaign.id)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _recipient_lines(rows) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(RECIPIENT_CSV_HEADER)
    for row in rows.iterator(chunk_size=2000):
        values = [
            row.id,
            row.recipient_ref or "",
            row.to_number,
            row.profile_id or "",
            row.state,
            row.body,
            row.error_code or "",
            row.error_detail or "",
            *[
                value.isoformat() if value else ""
                for value in (row.queued_at, row.sent_at, row.delivered_at, row.read_at, row.failed_at)
            ],
        ]
        yield writer.writerow(row_neutralise(values))


@login_required
@require_GET
def campaigns_recipients_export(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    """A run's recipients as CSV (the latest run unless one is chosen; the page's state and number
    filters apply), formula cells neutralised."""
    campaign = _campaign_or_404(campaign_id)
    form = RecipientFilterForm(request.GET, campaign=campaign)
    run_id = form.cleaned_data.get("run") if form.is_valid() else None
    run = selectors.campaign_run(campaign=campaign, run_id=run_id)
    rows = selectors.recipients(run=run, **form.filters()).order_by("id")
    logger.info("portal.campaign_recipients_exported", extra={"campaign_id": campaign.id, "user_id": request.user.pk})
    response = StreamingHttpResponse(_recipient_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.id}-recipients.csv"'
    return response


# --- the builder --------------------------------------------------------------------------------


TEXT_ERRORS = frozenset(
    {
        rendering.TemplateError.UNKNOWN_PLACEHOLDER,
        rendering.TemplateError.EMPTY,
        rendering.TemplateError.TOO_LONG,
        rendering.TemplateError.TOO_DEEP,
        CampaignError.NO_TEXT,
    }
)


def _builder_error(form: CampaignBuilderForm, exc: ChorusError) -> None:
    details = exc.details if isinstance(exc.details, dict) else {}
    fields = [key for key in details if key in form.fields]
    if fields:
        form.add_error(fields[0], exc.message)
    elif exc.code in TEXT_ERRORS:
        form.add_error("body", exc.message)
    else:
        form.add_error(None, exc.message)


@login_required
@role_required(Role.AGENT)
@require_http_methods(["GET", "POST"])
def campaigns_new(request: HttpRequest) -> HttpResponse:
    """The builder: one form in sections. The first POST checks it and shows the review (how
    many contacts would receive it, how long it would take); creating needs that review's
    button, and makes one draft campaign (started or scheduled from its page)."""
    if request.method == "GET":
        form = CampaignBuilderForm()
        return _builder_page(request, form, None)
    form = CampaignBuilderForm(request.POST, request.FILES)
    estimate = None
    uploaded = None
    if form.is_valid() and form.cleaned_data.get("audience_file") is not None:
        form, uploaded = _builder_list_upload(request, form)
        if uploaded is None:
            return _builder_page(request, form, None, status=400)
    if form.is_valid():
        values = form.service_values()
        try:
            template = values["template"]
            rendering.template_validate(template.body if template is not None else values["body"])
            weights = form.sender_weights()
            estimate = selectors.campaign_estimate(
                group_ids=[group.id for group in values["groups"]],
                everyone=values["audience_all"],
                profiles=[profile for profile, _weight in weights],
                weights=[weight for _profile, weight in weights]
                if values["rotation"] == Campaign.Rotation.WEIGHTED
                else None,
                pacing_override=values["pacing_override"],
                saved_filter=values["saved_filter"],
            )
            # A list uploaded with this press is reviewed first, never created unseen.
            if "confirm" in request.POST and uploaded is None:
                senders = [campaign_services.SenderChoice(profile=p, weight=w) for p, w in weights]
                created_by = request.user.pk
                with transaction.atomic():
                    campaign = campaign_services.campaign_create(created_by_id=created_by, senders=senders, **values)
                    # A time or a recurrence chosen in the builder is the plan: schedule it now
                    # (refused together with the creation, e.g. a time that has just passed).
                    if campaign.schedule != Campaign.Schedule.NOW:
                        campaign = campaign_services.campaign_schedule(campaign=campaign)
                logger.info("portal.campaign_created", extra={"campaign_id": campaign.id, "user_id": created_by})
                if campaign.state == Campaign.State.SCHEDULED:
                    messages.success(request, _("Campaign scheduled. It starts by itself at the time you chose."))
                else:
                    messages.success(request, _("Campaign created as a draft. Start it when ready."))
                return redirect("portal:campaigns_detail", campaign_id=campaign.id)
        except ChorusError as exc:
            _builder_error(form, exc)
            estimate = None
    status = 200 if form.is_valid() and estimate is not None else 400
    return _builder_page(request, form, estimate, status=status)


def _builder_list_upload(request: HttpRequest, form: CampaignBuilderForm) -> tuple[CampaignBuilderForm, Any]:
    """Import the uploaded list into a new group and return the builder with that group chosen
    (and the import), or the form with the file's error and None."""
    upload = form.cleaned_data["audience_file"]
    try:
        job = lists.audience_list_upload(
            campaign_name=form.cleaned_data["name"], stream=upload, name=upload.name, created_by_id=request.user.pk
        )
    except ChorusError as exc:
        form.add_error("audience_file", exc.message)
        return form, None
    data = request.POST.copy()
    data.setlist("groups", [*data.getlist("groups"), str(job.group_id)])
    rebuilt = CampaignBuilderForm(data)
    rebuilt.is_valid()
    return rebuilt, job


def _duration_text(seconds: int) -> str:
    hours, rest = divmod(max(0, seconds), 3600)
    minutes = rest // 60
    if hours:
        return _("about %(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("about %(minutes)d min") % {"minutes": minutes}
    return _("under a minute")


def _builder_page(request: HttpRequest, form: CampaignBuilderForm, estimate: Any, status: int = 200) -> HttpResponse:
    groups = form.cleaned_data.get("groups") if form.is_bound and hasattr(form, "cleaned_data") else None
    context = {
        "form": form,
        "importing": list(contact_selectors.imports_unfinished_into([g.id for g in groups])) if groups else [],
        "import_state_labels": dict(ImportJob.State.choices),
        "estimate": estimate,
        "duration": _duration_text(estimate.duration_s) if estimate is not None else "",
        "tenant_timezone": request.tenant.timezone,
        "preview_contacts": selectors.preview_contacts(limit=PREVIEW_CONTACTS_LIMIT),
    }
    return render(request, "campaigns/campaign_new.html", context, status=status)


# --- analytics ----------------------------------------------------------------------------------


@login_required
@require_GET
def analytics_page(request: HttpRequest) -> HttpResponse:
    """The workspace's last 30 days: messages per day by state, campaign performance and
    contact growth (charts drawn by static/js/analytics.js with the vendored Chart.js)."""
    daily = analytics.messages_per_day()
    growth = analytics.contact_growth()
    labels = dict(MessageState.choices)
    day_labels = [day.isoformat() for day in daily.dates]
    chart_data = {
        "daily": {
            "labels": day_labels,
            "series": [
                {"state": state, "label": str(labels.get(state, state)), "values": values}
                for state, values in daily.series.items()
            ],
        },
        "growth": {
            "labels": [day.isoformat() for day in growth.dates],
            "added": growth.added,
            "total": growth.total,
        },
        "names": {"added": _("Added"), "total": _("Contacts")},
    }
    context = {
        "chart_data": chart_data,
        "daily_totals": {state: sum(values) for state, values in daily.series.items()},
        "state_labels": labels,
        "performance": analytics.campaign_performance(),
        "growth": growth,
        "growth_added": sum(growth.added),
        "window_days": analytics.WINDOW_DAYS,
    }
    return render(request, "campaigns/analytics.html", context)
