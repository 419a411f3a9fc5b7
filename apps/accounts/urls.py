"""Account pages on tenant hosts, mounted at /accounts/ by config/urls_tenant.py."""

from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("verify/resend/", views.verify_email_resend, name="verify_resend"),
    path("verify/<str:token>/", views.verify_email, name="verify"),
    path("handoff/<str:token>/", views.handoff, name="handoff"),
    path("invite/<str:token>/", views.invitation_accept, name="invite"),
    path("profile/", views.profile, name="profile"),
]
