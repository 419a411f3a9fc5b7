"""The customer portal, mounted at "" on tenant hosts."""

from django.urls import path

from apps.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    *[path(f"{section}/", views.placeholder, {"section": section}, name=section) for section in views.PLACEHOLDERS],
    path("settings/", views.settings_index, name="settings"),
    path("settings/general/", views.settings_general, name="settings_general"),
    path("settings/team/", views.settings_team, name="settings_team"),
    path("settings/team/invite/", views.team_invite, name="team_invite"),
    path("settings/team/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("settings/team/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/team/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/api-keys/", views.settings_api_keys, name="settings_api_keys"),
    path("settings/api-keys/<int:api_key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
