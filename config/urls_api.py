"""/api/v1/ on tenant hosts. Each app adds its routes here (routers with trailing_slash=False,
so every path looks like /api/v1/api-keys). Unknown paths fall through to the JSON 404 of
config/urls_tenant.py."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.senders.api.urls")),
    path("", include("apps.contacts.api.urls")),
    path("", include("apps.campaigns.api.urls")),
]
