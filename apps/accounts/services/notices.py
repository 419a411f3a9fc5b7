"""Live notices to a tenant's members about changes to the team: a toast on every portal page
of that tenant that is open (the `notifications` topic, see apps.core.realtime).

Called inside the changing service's transaction: publish() sends after commit, so nobody hears
about an invitation, member or key that was rolled back. The text is rendered in the acting
user's language (the request's), as a toast is one short sentence, not a document. It names
no invited e-mail address and no key material: every member of the tenant receives it, while
pending invitations and API keys are shown only to owners and admins.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.accounts.models import ApiKey, Invitation, Membership, Role, User
from apps.core.realtime.notifications import notification_send


def _who(user: User | None) -> str:
    if user is None:
        return _("Someone")
    return user.full_name or user.email


def notice_invitation_created(*, invitation: Invitation) -> None:
    message = _("%(who)s invited a new teammate as %(role)s.") % {
        "who": _who(invitation.invited_by),
        "role": Role(invitation.role).label,
    }
    notification_send(tenant=invitation.tenant, message=message, level="info")


def notice_member_joined(*, membership: Membership) -> None:
    message = _("%(who)s joined the workspace as %(role)s.") % {
        "who": _who(membership.user),
        "role": Role(membership.role).label,
    }
    notification_send(tenant=membership.tenant, message=message, level="success")


def notice_api_key_created(*, api_key: ApiKey) -> None:
    message = _("%(who)s created the API key “%(name)s”.") % {"who": _who(api_key.created_by), "name": api_key.name}
    notification_send(tenant=api_key.tenant, message=message, level="info")
