"""/api/v1/ routes of campaigns and templates (no trailing slashes, like every /api/v1/ path)."""

from django.urls import path

from apps.campaigns.api import views

urlpatterns = [
    path("templates", views.TemplateListCreateView.as_view(), name="api-templates"),
    path("templates/preview", views.TemplatePreviewView.as_view(), name="api-template-preview"),
    path("templates/<int:template_id>", views.TemplateDetailView.as_view(), name="api-template-detail"),
    path("campaigns", views.CampaignListCreateView.as_view(), name="api-campaigns"),
    path("campaigns/<int:campaign_id>", views.CampaignDetailView.as_view(), name="api-campaign-detail"),
    path("campaigns/<int:campaign_id>/start", views.CampaignStartView.as_view(), name="api-campaign-start"),
    path("campaigns/<int:campaign_id>/schedule", views.CampaignScheduleView.as_view(), name="api-campaign-schedule"),
    path(
        "campaigns/<int:campaign_id>/unschedule", views.CampaignUnscheduleView.as_view(), name="api-campaign-unschedule"
    ),
    path("campaigns/<int:campaign_id>/pause", views.CampaignPauseView.as_view(), name="api-campaign-pause"),
    path("campaigns/<int:campaign_id>/resume", views.CampaignResumeView.as_view(), name="api-campaign-resume"),
    path("campaigns/<int:campaign_id>/cancel", views.CampaignCancelView.as_view(), name="api-campaign-cancel"),
    path("campaigns/<int:campaign_id>/stats", views.CampaignStatsView.as_view(), name="api-campaign-stats"),
    path("campaigns/<int:campaign_id>/runs", views.CampaignRunsView.as_view(), name="api-campaign-runs"),
    path(
        "campaigns/<int:campaign_id>/recipients", views.CampaignRecipientsView.as_view(), name="api-campaign-recipients"
    ),
    path("campaigns/<int:campaign_id>/preview", views.CampaignPreviewView.as_view(), name="api-campaign-preview"),
]
