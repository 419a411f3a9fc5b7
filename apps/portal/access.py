"""Role checks for portal pages. The middleware has already admitted the user to this tenant
(a membership, or platform staff with owner rights); these compare that membership's role."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def has_role(request: HttpRequest, minimum: str) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.has_role(minimum)


def forbidden(request: HttpRequest, view_name: str) -> HttpResponse:
    logger.info(
        "portal.forbidden",
        extra={"tenant_id": request.tenant.id, "user_id": request.user.pk, "view": view_name},
    )
    return render(request, "portal/forbidden.html", status=403)


def role_required(minimum: str) -> Callable[[View], View]:
    """Refuse (403) members below `minimum`. Applied under login_required, so the user is known
    and the middleware has already checked they belong to this tenant."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not has_role(request, minimum):
                return forbidden(request, view.__name__)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
