"""/api/v1/ on tenant hosts. Each app adds its router here."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.accounts.api.urls")),
]
