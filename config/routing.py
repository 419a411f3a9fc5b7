"""Websocket routes (tenant hosts)."""

from django.urls import path

from apps.core.realtime.consumers import NotificationsConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
]
