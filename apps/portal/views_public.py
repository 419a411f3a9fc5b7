"""The public site on the bare domain: landing page, sign-up and the sign-up progress page.

The progress page belongs to the browser that signed up: the provisioning ids it may follow are
kept in its session, so guessing /signup/<id>/ shows nothing of anyone else's sign-up."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.forms import SignupForm, SignupRetryForm, WorkspaceLoginForm, slug_error
from apps.accounts.services import registration
from apps.accounts.services.links import slug_url, tenant_path
from apps.core.exceptions import ChorusError, Conflict, ValidationFailed
from apps.tenants.models import Tenant, TenantProvisioning

SESSION_KEY = "signup_provisioning_ids"
# The plain-page fallback reloads this often (seconds) when htmx is not running.
META_REFRESH_S = 3
# Sign-up form fields that service errors (raised after the form's own checks, in a race) map to.
SERVICE_ERROR_FIELDS = {"email_taken": "email", "weak_password": "password", "invalid_timezone": "timezone"}


def _remember(request: HttpRequest, provisioning: TenantProvisioning) -> None:
    ids = [i for i in request.session.get(SESSION_KEY, []) if i != provisioning.pk]
    request.session[SESSION_KEY] = [*ids, provisioning.pk]


def _own_provisioning(request: HttpRequest, pk: int) -> TenantProvisioning:
    if pk not in request.session.get(SESSION_KEY, []):
        raise Http404
    provisioning = TenantProvisioning.objects.select_related("tenant", "owner").filter(pk=pk).first()
    if provisioning is None:
        raise Http404
    return provisioning


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"workspace_form": WorkspaceLoginForm()})


@require_GET
def workspace_login(request: HttpRequest) -> HttpResponse:
    """Send someone to their workspace's sign-in page (cookies are per host, so it has to be
    there, not here)."""
    form = WorkspaceLoginForm(request.GET)
    if form.is_valid():
        slug = form.cleaned_data["slug"]
        if Tenant.objects.filter(slug=slug).exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).exists():
            return HttpResponseRedirect(slug_url(slug=slug, path=tenant_path("accounts:login")))
        form.add_error("slug", _no_workspace_message(slug))
    return render(request, "public/landing.html", {"workspace_form": form}, status=400)


def _no_workspace_message(slug: str) -> str:
    return gettext("There is no workspace at “%(slug)s”.") % {"slug": slug}


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = registration.account_register(
                full_name=data["full_name"],
                email=data["email"],
                password=data["password"],
                company_name=data["company_name"],
                slug=data["slug"],
                timezone_name=data["timezone"],
                language=_chosen_language(request),
                verification_host=request.get_host().split(":")[0],
            )
        except (ValidationFailed, Conflict) as exc:
            _add_service_error(form, exc)
        else:
            _remember(request, result.provisioning)
            return redirect("public:signup_progress", pk=result.provisioning.pk)
    return render(request, "public/signup.html", {"form": form})


def _chosen_language(request: HttpRequest) -> str:
    """The language picked with the locale switcher, if any: it becomes the profile's language.
    A browser's Accept-Language alone is not a choice worth pinning."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return get_language() or ""
    return ""


def _add_service_error(form: SignupForm, exc: ChorusError) -> None:
    if isinstance(exc.details, dict) and exc.details.get("field") == "slug":
        form.add_error("slug", slug_error(form.cleaned_data.get("slug", ""), exc))
    else:
        form.add_error(SERVICE_ERROR_FIELDS.get(exc.code), exc.message)


def _progress_context(request: HttpRequest, provisioning: TenantProvisioning) -> dict:
    return {
        "provisioning": provisioning,
        "status_url": reverse("public:signup_status", kwargs={"pk": provisioning.pk}),
        "retry_form": SignupRetryForm(initial={"slug": provisioning.slug}),
        "is_pending": provisioning.state in (TenantProvisioning.State.PENDING, TenantProvisioning.State.RUNNING),
    }


def _handoff_or_none(provisioning: TenantProvisioning) -> str | None:
    if provisioning.state != TenantProvisioning.State.DONE:
        return None
    try:
        return registration.handoff_url(provisioning=provisioning)
    except Conflict:
        return None


@require_GET
def signup_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The page a new owner watches while a worker builds the workspace. htmx polls the status
    partial every second; without JavaScript the page reloads itself; once the workspace is
    ready both end up on a one-time sign-in link into it."""
    provisioning = _own_provisioning(request, pk)
    url = _handoff_or_none(provisioning)
    if url is not None:
        return HttpResponseRedirect(url)
    context = _progress_context(request, provisioning)
    context["meta_refresh_s"] = META_REFRESH_S
    return render(request, "public/signup_progress.html", context)


@require_GET
def signup_status(request: HttpRequest, pk: int) -> HttpResponse:
    provisioning = _own_provisioning(request, pk)
    url = _handoff_or_none(provisioning)
    context = _progress_context(request, provisioning)
    context["handoff_url"] = url
    response = render(request, "public/_signup_status.html", context)
    if url is not None:
        response["HX-Redirect"] = url
    return response


@require_POST
def signup_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """After a failed provisioning, try again with another workspace address (the account
    already exists; signing up again would refuse its e-mail)."""
    provisioning = _own_provisioning(request, pk)
    form = SignupRetryForm(request.POST)
    if form.is_valid():
        try:
            retried = registration.account_provisioning_retry(provisioning=provisioning, slug=form.cleaned_data["slug"])
        except (ValidationFailed, Conflict) as exc:
            if isinstance(exc.details, dict) and exc.details.get("field") == "slug":
                form.add_error("slug", slug_error(form.cleaned_data["slug"], exc))
            else:
                form.add_error(None, exc.message)
        else:
            _remember(request, retried)
            return redirect("public:signup_progress", pk=retried.pk)
    context = _progress_context(request, provisioning)
    context["retry_form"] = form
    return render(request, "public/signup_progress.html", context, status=400)
