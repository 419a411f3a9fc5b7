"""/api/v1/ routes of the sending engine (no trailing slashes, like every /api/v1/ path)."""

from django.urls import path

from apps.senders.api import views

urlpatterns = [
    path("profiles", views.ProfileListCreateView.as_view(), name="api-profiles"),
    path("profiles/<int:profile_id>", views.ProfileDetailView.as_view(), name="api-profile-detail"),
    path("profiles/<int:profile_id>/qr", views.ProfileQrView.as_view(), name="api-profile-qr"),
    path("profiles/<int:profile_id>/status", views.ProfileStatusView.as_view(), name="api-profile-status"),
    path("profiles/<int:profile_id>/logout", views.ProfileLogoutView.as_view(), name="api-profile-logout"),
    path("profiles/<int:profile_id>/link", views.ProfileLinkView.as_view(), name="api-profile-link"),
    path("messages", views.MessageListCreateView.as_view(), name="api-messages"),
    path("messages/<int:message_id>", views.MessageDetailView.as_view(), name="api-message-detail"),
    path("opt-out-words", views.OptOutWordListCreateView.as_view(), name="api-opt-out-words"),
    path("opt-out-words/<int:word_id>", views.OptOutWordDetailView.as_view(), name="api-opt-out-word-detail"),
]
