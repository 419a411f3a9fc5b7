"""One ASGI application for HTTP (Django) and websockets (Channels)."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from django.core.asgi import get_asgi_application

django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.core.realtime.middleware import QueryTokenRedactor, TenantWebsocketMiddleware  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": AllowedHostsOriginValidator(TenantWebsocketMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

# Websocket clients may authenticate with ?token=<access JWT>; the server logs paths with their
# query strings.
for _server_logger in ("uvicorn.error", "uvicorn.access", "daphne.server"):
    logging.getLogger(_server_logger).addFilter(QueryTokenRedactor())
