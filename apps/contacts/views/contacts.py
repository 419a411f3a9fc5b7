"""Portal pages of the contacts list (search, filters, keyset pages, bulk actions) and of one
contact (details, edit, opt-out, message history). Front doors only: check the form, call one
service, render.

Roles match the contacts API: every member reads contacts; agents and up change contacts, tag
and opt out; owners and admins delete.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import Role
from apps.contacts import selectors
from apps.contacts.forms import BulkActionForm, ContactEditForm, ContactFilterForm, OptOutForm
from apps.contacts.models import Contact, Group
from apps.contacts.services import bulk
from apps.contacts.services import contacts as contact_services
from apps.contacts.services.groups import group_get_or_create
from apps.core.exceptions import ChorusError, NotFound
from apps.portal.access import forbidden, has_role, role_required

logger = logging.getLogger(__name__)


def _contact_or_404(contact_id: int) -> Contact:
    try:
        return contact_services.contact_get(contact_id=contact_id)
    except NotFound:
        raise Http404("No such contact.") from None


def _list_url(request: HttpRequest, candidate: str | None) -> str:
    """Back to the list the action was taken from (its filters and page), never elsewhere."""
    base = reverse("portal:contacts")
    if (
        candidate
        and candidate.startswith(base)
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    ):
        return candidate
    return base


# --- the list -----------------------------------------------------------------------------------


@login_required
@require_GET
def contacts(request: HttpRequest) -> HttpResponse:
    form = ContactFilterForm(request.GET)
    context: dict[str, Any] = {
        "filter_form": form,
        "bulk_form": BulkActionForm(initial={"next": request.get_full_path()}),
        "can_edit": has_role(request, Role.AGENT),
        "can_delete": has_role(request, Role.ADMIN),
    }
    if not form.is_valid():
        context.update(page=None, total=None)
        return render(request, "contacts/contacts.html", context, status=400)
    queryset = selectors.contacts_list(**form.filters())
    page = selectors.contacts_page(
        queryset.prefetch_related("groups"), after=form.cleaned_data["after"], before=form.cleaned_data["before"]
    )
    context.update(
        page=page,
        total=selectors.contacts_total(queryset, filtered=form.is_filtered()),
        filtered=form.is_filtered(),
        newer_query=form.query(before=page.newer_than) if page.newer_than else None,
        older_query=form.query(after=page.older_than) if page.older_than else None,
        export_query=form.query(),
    )
    return render(request, "contacts/contacts.html", context)


def _bulk_group(form: BulkActionForm) -> Group:
    group = form.cleaned_data.get("group")
    if group is None:
        group, _created = group_get_or_create(name=form.cleaned_data["new_group"])
    return group


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkActionForm(request.POST)
    back = _list_url(request, request.POST.get("next"))
    if not form.is_valid():
        errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
        messages.error(request, errors[0] if errors else _("Choose an action and at least one contact."))
        return redirect(back)
    action = form.cleaned_data["action"]
    if action == BulkActionForm.DELETE and not has_role(request, Role.ADMIN):
        return forbidden(request, "contacts_bulk_delete")
    ids = form.cleaned_data["contact"]
    try:
        if action == BulkActionForm.ADD_TO_GROUP:
            with transaction.atomic():
                group = _bulk_group(form)
                changed = bulk.contacts_group_add(contact_ids=ids, group=group)
            text = ngettext(
                "%(count)s contact added to %(group)s.", "%(count)s contacts added to %(group)s.", changed
            ) % {"count": changed, "group": group.name}
        elif action == BulkActionForm.REMOVE_FROM_GROUP:
            group = form.cleaned_data["group"]
            changed = bulk.contacts_group_remove(contact_ids=ids, group=group)
            text = ngettext(
                "%(count)s contact removed from %(group)s.", "%(count)s contacts removed from %(group)s.", changed
            ) % {"count": changed, "group": group.name}
        elif action == BulkActionForm.OPT_OUT:
            changed = bulk.contacts_opt_out(contact_ids=ids, via=Contact.OptOutVia.MANUAL)
            text = ngettext("%(count)s contact opted out.", "%(count)s contacts opted out.", changed) % {
                "count": changed
            }
        else:
            changed = bulk.contacts_delete(contact_ids=ids)
            text = ngettext("%(count)s contact deleted.", "%(count)s contacts deleted.", changed) % {"count": changed}
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    logger.info(
        "portal.contacts_bulk",
        extra={"action": action, "selected": len(ids), "changed": changed, "user_id": request.user.pk},
    )
    messages.success(request, text)
    return redirect(back)


# --- one contact --------------------------------------------------------------------------------


def _detail_page(
    request: HttpRequest, contact: Contact, *, edit_form: ContactEditForm | None = None, status: int = 200
) -> HttpResponse:
    group_ids = selectors.contact_group_ids(contact)
    can_edit = has_role(request, Role.AGENT)
    edit_form = edit_form or ContactEditForm(initial=ContactEditForm.initial_for(contact, group_ids))
    if not can_edit:
        for field in edit_form.fields.values():
            field.disabled = True
    context = {
        "contact": contact,
        "groups": list(Group.objects.filter(id__in=group_ids).order_by("name")),
        "edit_form": edit_form,
        "opt_out_form": OptOutForm(),
        "history": selectors.contact_messages(phone=contact.phone),
        "history_limit": selectors.CONTACT_HISTORY_LIMIT,
        "is_suppressed": selectors.contact_is_suppressed(phone=contact.phone),
        "can_edit": can_edit,
        "can_delete": has_role(request, Role.ADMIN),
    }
    return render(request, "contacts/contact_detail.html", context, status=status)


@login_required
@require_GET
def contacts_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    return _detail_page(request, _contact_or_404(contact_id))


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    form = ContactEditForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, contact, edit_form=form, status=400)
    try:
        contact_services.contact_edit(
            contact=contact, groups=list(form.cleaned_data["groups"]), **form.fields_to_save()
        )
    except ChorusError as exc:
        form.add_error(None, exc.message)
        return _detail_page(request, _contact_or_404(contact_id), edit_form=form, status=exc.status)
    messages.success(request, _("Contact saved."))
    return redirect("portal:contacts_detail", contact_id=contact.id)


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_opt_out(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    form = OptOutForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if bulk.contacts_opt_out(contact_ids=[contact.id], reason=reason, via=Contact.OptOutVia.MANUAL):
        messages.success(request, _("Opted out. This contact gets no campaign messages from now on."))
    else:
        messages.info(request, _("This contact was already opted out."))
    return redirect("portal:contacts_detail", contact_id=contact.id)


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_opt_in(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    if bulk.contacts_opt_in(contact_ids=[contact.id]):
        messages.success(request, _("Opted back in. Campaigns can message this contact again."))
    else:
        messages.info(request, _("This contact was not opted out."))
    return redirect("portal:contacts_detail", contact_id=contact.id)


@login_required
@require_POST
@role_required(Role.ADMIN)
def contacts_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    bulk.contacts_delete(contact_ids=[contact.id])
    messages.success(request, _("%(contact)s was deleted.") % {"contact": str(contact)})
    return redirect("portal:contacts")
