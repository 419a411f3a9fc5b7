"""The customer portal, mounted at "" on tenant hosts."""

from django.urls import include, path

from apps.campaigns import views as campaigns_views
from apps.campaigns.urls import campaign_urlpatterns, template_urlpatterns
from apps.portal import views
from apps.senders import views as senders_views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    *[path(f"{section}/", views.placeholder, {"section": section}, name=section) for section in views.PLACEHOLDERS],
    path("contacts/", include("apps.contacts.urls")),
    path("templates/", include(template_urlpatterns)),
    path("campaigns/", include(campaign_urlpatterns)),
    path("analytics/", campaigns_views.analytics_page, name="analytics"),
    path("numbers/", senders_views.numbers, name="numbers"),
    path("numbers/add/", senders_views.numbers_add, name="numbers_add"),
    path("numbers/<int:profile_id>/", senders_views.numbers_detail, name="numbers_detail"),
    path("numbers/<int:profile_id>/settings/", senders_views.numbers_settings, name="numbers_settings"),
    path("numbers/<int:profile_id>/link/", senders_views.numbers_link, name="numbers_link"),
    path("numbers/<int:profile_id>/logout/", senders_views.numbers_logout, name="numbers_logout"),
    path("numbers/<int:profile_id>/delete/", senders_views.numbers_delete, name="numbers_delete"),
    path("numbers/<int:profile_id>/test-message/", senders_views.numbers_test_message, name="numbers_test_message"),
    path("numbers/<int:profile_id>/messages/<int:message_id>/", senders_views.numbers_message, name="numbers_message"),
    path("settings/", views.settings_index, name="settings"),
    path("settings/general/", views.settings_general, name="settings_general"),
    path("settings/team/", views.settings_team, name="settings_team"),
    path("settings/team/invite/", views.team_invite, name="team_invite"),
    path("settings/team/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("settings/team/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/team/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/api-keys/", views.settings_api_keys, name="settings_api_keys"),
    path("settings/api-keys/<int:api_key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("settings/opt-out-words/", senders_views.settings_opt_out, name="settings_opt_out"),
    path("settings/opt-out-words/add/", senders_views.settings_opt_out_add, name="settings_opt_out_add"),
    path(
        "settings/opt-out-words/<int:word_id>/remove/",
        senders_views.settings_opt_out_remove,
        name="settings_opt_out_remove",
    ),
]
