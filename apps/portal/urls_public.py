"""The public site on the bare domain (mounted at "" by config/urls_public.py)."""

from django.urls import path

from apps.accounts import views as account_views
from apps.portal import views_public

app_name = "public"

urlpatterns = [
    path("", views_public.landing, name="landing"),
    path("go/", views_public.workspace_login, name="workspace_login"),
    path("signup/", views_public.signup, name="signup"),
    path("signup/<int:pk>/", views_public.signup_progress, name="signup_progress"),
    path("signup/<int:pk>/status/", views_public.signup_status, name="signup_status"),
    path("signup/<int:pk>/retry/", views_public.signup_retry, name="signup_retry"),
    # Sign-up e-mails link here: the new workspace's host may not exist yet when the mail is read.
    path("accounts/verify/<str:token>/", account_views.verify_email, name="verify"),
]
