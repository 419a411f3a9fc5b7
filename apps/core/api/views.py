"""API front doors shared by every app."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView


class ApiNotFoundView(APIView):
    """Catch-all for unknown /api/ paths, so they answer in the API's error shape, not HTML.

    It refuses before authentication, permissions and method dispatch: an unknown path is a 404
    for everyone and reveals nothing about who is asking.
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    schema = None  # not an endpoint of the documented API

    def initial(self, request: Request, *args, **kwargs) -> None:
        raise exceptions.NotFound(_("No API endpoint at this path."))
