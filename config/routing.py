"""Websocket routes (tenant hosts)."""

from django.urls import path

from apps.campaigns.consumers import CampaignProgressConsumer
from apps.contacts.consumers import ExportProgressConsumer, ImportProgressConsumer
from apps.core.realtime.consumers import NotificationsConsumer
from apps.senders.consumers import ProfilesConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
    path("ws/profiles/", ProfilesConsumer.as_asgi()),
    path("ws/imports/<int:job_id>/", ImportProgressConsumer.as_asgi()),
    path("ws/exports/<int:export_id>/", ExportProgressConsumer.as_asgi()),
    path("ws/campaigns/<int:campaign_id>/", CampaignProgressConsumer.as_asgi()),
]
