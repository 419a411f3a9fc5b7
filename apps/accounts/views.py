"""Account pages on tenant hosts (/accounts/...): sign-in and out, password reset and change,
e-mail verification, the sign-up hand-off, invitations and the profile. Front doors only:
they check input, call one service and render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.forms import InvitationLoginForm, InvitationSignupForm, LoginForm, ProfileForm
from apps.accounts.models import Invitation, Membership, Role, User
from apps.accounts.services import invitations, registration
from apps.accounts.services.links import host_url, tenant_host
from apps.accounts.services.profile import user_profile_update
from apps.core.exceptions import ChorusError

# The backend a password-less login (hand-off, fresh invitee) is recorded with; axes' backend
# only guards authenticate() and cannot restore a session user.
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


def dashboard_url() -> str:
    """Where a signed-in user lands (settings.LOGIN_REDIRECT_URL), or "/" while the portal does
    not define it."""
    try:
        return reverse(settings.LOGIN_REDIRECT_URL)
    except NoReverseMatch:
        return "/"


def _apply_language(response: HttpResponse, user: User) -> HttpResponse:
    """The profile's language wins over the browser's from sign-in on (LocaleMiddleware reads
    the cookie)."""
    if user.language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
    return response


def _login_without_password(request: HttpRequest, user: User) -> None:
    login(request, user, backend=SESSION_BACKEND)


# --- sign in / out ----------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm

    def get_default_redirect_url(self) -> str:
        return dashboard_url()

    def form_valid(self, form):
        response = super().form_valid(form)
        return _apply_language(response, form.get_user())


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("accounts:login")


# --- password reset and change ----------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    email_template_name = "accounts/email/password_reset_body.txt"
    html_email_template_name = "accounts/email/password_reset_body.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # Links use the platform's public scheme and port, not whatever the proxy handed us.
        self.extra_email_context = {"base_url": host_url(host=tenant_host(self.request.tenant), path="")}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password has been changed."))
        return response


# --- e-mail verification ----------------------------------------------------------------------


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """Works on the public site (sign-up links) and on every tenant host (resent links)."""
    try:
        user = registration.email_verify(token=token)
    except ChorusError as exc:
        return render(
            request,
            "accounts/link_invalid.html",
            {"title": _("Verification link not valid"), "reason": _verify_reason(exc.code)},
            status=400,
        )
    return render(request, "accounts/verify_done.html", {"verified_user": user})


def _verify_reason(code: str) -> str:
    if code == registration.AccountError.TOKEN_EXPIRED:
        return _("This verification link has expired. Sign in and ask for a new one from your profile.")
    return _("This verification link is not valid. Check that you copied the whole link.")


@login_required
@require_POST
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    if request.user.email_verified_at is not None:
        messages.info(request, _("Your e-mail address is already verified."))
    else:
        registration.email_verification_send(user=request.user, host=tenant_host(request.tenant))
        messages.success(request, _("We sent a new verification link to %(email)s.") % {"email": request.user.email})
    return redirect("accounts:profile")


# --- sign-up hand-off -------------------------------------------------------------------------


def handoff(request: HttpRequest, token: str) -> HttpResponse:
    """Land a new owner, signed in, on their fresh workspace (the link comes from the public
    sign-up page; cookies are per host so the session has to start here)."""
    try:
        user = registration.handoff_redeem(token=token, tenant=request.tenant)
    except ChorusError as exc:
        reason = (
            _("This sign-in link has already been used. Sign in with your e-mail and password.")
            if exc.code == registration.AccountError.HANDOFF_USED
            else _("This sign-in link is not valid or has expired. Sign in with your e-mail and password.")
        )
        return render(
            request, "accounts/link_invalid.html", {"title": _("Sign-in link not valid"), "reason": reason}, status=400
        )
    _login_without_password(request, user)
    return _apply_language(HttpResponseRedirect(dashboard_url()), user)


# --- invitations ------------------------------------------------------------------------------


def _invitation_error_page(request: HttpRequest, exc: ChorusError) -> HttpResponse:
    code = exc.code
    if code == invitations.InvitationError.EXPIRED:
        reason = _("This invitation has expired. Ask the person who invited you to send a new one.")
    elif code == invitations.InvitationError.USED:
        reason = _("This invitation has already been used. Sign in to open the workspace.")
    elif code == invitations.InvitationError.EMAIL_MISMATCH:
        reason = _("This invitation was sent to another e-mail address.")
    else:
        reason = _("This invitation link is not valid. Check that you copied the whole link.")
    status = 404 if code in (invitations.InvitationError.NOT_FOUND, invitations.InvitationError.WRONG_TENANT) else 410
    if code == invitations.InvitationError.EMAIL_MISMATCH:
        status = 403
    return render(
        request, "accounts/link_invalid.html", {"title": _("Invitation not valid"), "reason": reason}, status=status
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Three cases, by who opens the link: someone without an account sets a name and password;
    an existing account signs in with its password; the invited user, already signed in,
    confirms. Each ends in a membership with the invited role."""
    try:
        invitation = invitations.invitation_for_token(token=token, tenant=request.tenant)
    except ChorusError as exc:
        return _invitation_error_page(request, exc)

    invitee = User.objects.filter(email__iexact=invitation.email).first()
    signed_in_as_invitee = request.user.is_authenticated and request.user.email.lower() == invitation.email
    signed_in_as_other = request.user.is_authenticated and not signed_in_as_invitee
    form = None
    if signed_in_as_other:
        pass
    elif invitee is None:
        form = InvitationSignupForm(request.POST or None, email=invitation.email)
    elif not signed_in_as_invitee:
        form = InvitationLoginForm(request.POST or None)

    if request.method == "POST" and not signed_in_as_other and (form is None or form.is_valid()):
        try:
            membership = _invitation_accept(request, token=token, invitation=invitation, invitee=invitee, form=form)
        except ChorusError as exc:
            return _invitation_error_page(request, exc)
        if membership is not None:
            if not signed_in_as_invitee:
                _login_without_password(request, membership.user)
            messages.success(request, _("Welcome to %(workspace)s.") % {"workspace": invitation.tenant.name})
            return _apply_language(HttpResponseRedirect(dashboard_url()), membership.user)

    return render(
        request,
        "accounts/invite.html",
        {
            "invitation": invitation,
            "role_label": Role(invitation.role).label,
            "form": form,
            "has_account": invitee is not None,
            "signed_in_as_invitee": signed_in_as_invitee,
            "signed_in_as_other": signed_in_as_other,
        },
    )


def _invitation_accept(
    request: HttpRequest, *, token: str, invitation: Invitation, invitee: User | None, form
) -> Membership | None:
    """Accept as whoever the (valid) form proves the visitor to be; None re-renders the form."""
    if form is None:
        return invitations.invitation_accept(token=token, user=request.user, tenant=request.tenant)
    if invitee is None:
        return invitations.invitation_accept_as_new_user(
            token=token,
            full_name=form.cleaned_data["full_name"],
            password=form.cleaned_data["password"],
            tenant=request.tenant,
        )
    # authenticate() with the request, so axes counts and locks out password guessing here too.
    user = authenticate(request, username=invitation.email, password=form.cleaned_data["password"])
    if user is None:
        form.add_error("password", _("That password is not right for %(email)s.") % {"email": invitation.email})
        return None
    return invitations.invitation_accept(token=token, user=user, tenant=request.tenant)


# --- profile ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(request.POST or None, initial={"full_name": user.full_name, "language": user.language})
    if request.method == "POST" and form.is_valid():
        user_profile_update(user=user, full_name=form.cleaned_data["full_name"], language=form.cleaned_data["language"])
        messages.success(request, _("Your profile has been saved."))
        response = redirect("accounts:profile")
        if user.language:
            return _apply_language(response, user)
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        return response
    return render(request, "accounts/profile.html", {"form": form})
