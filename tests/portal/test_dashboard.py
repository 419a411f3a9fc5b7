from datetime import timedelta

from django.urls import reverse

from apps.billing.selectors import tenant_local_today
from tests.billing.factories import UsageRecordFactory


def meter(key: str, used: int, limit: int) -> str:
    return f'data-meter="{key}">{used}</span><span class="meter-limit">/ {limit}</span>'


def test_dashboard_shows_the_plan_and_exact_usage_from_usage_records(alpha, beta, client_for):
    today = tenant_local_today(alpha.tenant)
    UsageRecordFactory(tenant=alpha.tenant, day=today, messages_sent=37, contacts=412, numbers=2)
    earlier_this_month = today.replace(day=1)
    month_total = 37
    if earlier_this_month != today:
        UsageRecordFactory(tenant=alpha.tenant, day=earlier_this_month, messages_sent=100, contacts=5, numbers=1)
        month_total += 100
    # Last month's and another tenant's usage never count.
    UsageRecordFactory(tenant=alpha.tenant, day=earlier_this_month - timedelta(days=1), messages_sent=999)
    UsageRecordFactory(tenant=beta.tenant, day=today, messages_sent=555, contacts=77, numbers=9)

    response = client_for(alpha).get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<strong class="plan-title">Business</strong>' in html
    assert meter("numbers", 2, 10) in html
    assert meter("messages_today", 37, 1000) in html
    assert meter("messages_month", month_total, 30000) in html
    assert meter("contacts", 412, 250000) in html
    assert "555" not in html


def test_dashboard_shows_the_tenant_details_and_getting_started(alpha, client_for):
    response = client_for(alpha).get(reverse("portal:dashboard"), HTTP_HOST=alpha.host)

    html = response.content.decode()
    assert "Alpha Inc" in html
    assert '<code dir="ltr">alpha</code>' in html
    assert '<dd dir="ltr">UTC</dd>' in html
    assert "Active" in html
    assert "Getting started" in html
    assert "Invite your team" in html


def test_usage_card_refresh_returns_only_the_fragment_for_htmx(alpha, client_for):
    UsageRecordFactory(tenant=alpha.tenant, day=tenant_local_today(alpha.tenant), messages_sent=12)

    response = client_for(alpha).get("/", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="usage"')
    assert "<html" not in html
    assert meter("messages_today", 12, 1000) in html
    assert "HX-Request" in response["Vary"]


def test_empty_usage_shows_zero_against_the_limits(alpha, client_for):
    html = client_for(alpha).get("/").content.decode()

    assert meter("messages_today", 0, 1000) in html
    assert meter("numbers", 0, 10) in html


def test_anonymous_visitor_is_sent_to_the_login_page(alpha):
    from django.test import Client

    response = Client(HTTP_HOST=alpha.host).get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login") + "?next=/"


def test_member_of_alpha_gets_403_on_betas_dashboard(alpha, beta, client_for):
    response = client_for(beta, user=alpha.owner).get("/")

    html = response.content.decode()
    assert response.status_code == 403
    assert "You are not a member of this workspace" in html
    assert "Getting started" not in html
    assert "data-meter" not in html
