"""Portal pages of templates and campaigns, inside the portal's namespace (portal:templates…)."""

from django.urls import path

from apps.campaigns import views

template_urlpatterns = [
    path("", views.templates, name="templates"),
    path("new/", views.templates_new, name="templates_new"),
    path("preview/", views.templates_preview, name="templates_preview"),
    path("<int:template_id>/", views.templates_detail, name="templates_detail"),
    path("<int:template_id>/delete/", views.templates_delete, name="templates_delete"),
]

campaign_urlpatterns = [
    path("", views.campaigns, name="campaigns"),
    path("new/", views.campaigns_new, name="campaigns_new"),
    path("<int:campaign_id>/", views.campaigns_detail, name="campaigns_detail"),
    path("<int:campaign_id>/recipients.csv", views.campaigns_recipients_export, name="campaigns_recipients_export"),
    path("<int:campaign_id>/<slug:action>/", views.campaigns_action, name="campaigns_action"),
]
