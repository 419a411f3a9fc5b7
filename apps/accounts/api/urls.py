"""/api/v1/ routes of the accounts app (no trailing slashes, like every /api/v1/ path)."""

from django.urls import path

from apps.accounts.api import views

urlpatterns = [
    path("auth/token", views.TokenObtainView.as_view(), name="api-token-obtain"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="api-token-refresh"),
    path("auth/token/blacklist", views.TokenBlacklistView.as_view(), name="api-token-blacklist"),
    path("me", views.MeView.as_view(), name="api-me"),
    path("api-keys", views.ApiKeyListCreateView.as_view(), name="api-keys"),
    path("api-keys/<int:api_key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
