import hashlib
import re

import pytest

from apps.accounts.models import ApiKey
from apps.accounts.services.api_keys import api_key_create
from apps.billing.models import Plan, Subscription

SECRET = re.compile(r"chk_[A-Za-z0-9]{8}_[A-Za-z0-9]{40}")


def test_creating_a_key_shows_the_secret_once_and_stores_only_its_hash(alpha, client_for):
    client = client_for(alpha)

    response = client.post("/settings/api-keys/", {"name": "CRM sync"})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    secrets_shown = SECRET.findall(html)
    assert len(set(secrets_shown)) == 1
    secret = secrets_shown[0]
    key = ApiKey.objects.get(tenant=alpha.tenant)
    assert key.name == "CRM sync"
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.split("_")[1] == key.prefix
    stored = [str(value) for value in ApiKey.objects.filter(pk=key.pk).values().first().values()]
    assert secret not in stored
    later = client.get("/settings/api-keys/").content.decode()
    assert secret not in later
    assert SECRET.search(later) is None
    assert f'data-api-key="{key.prefix}"' in later


def test_revoking_a_key_marks_it_revoked(alpha, client_for):
    created = api_key_create(tenant=alpha.tenant, name="Old script", created_by=alpha.owner)
    client = client_for(alpha)

    response = client.post(f"/settings/api-keys/{created.api_key.pk}/revoke/")

    assert response.status_code == 302
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at is not None
    html = client.get("/settings/api-keys/").content.decode()
    assert f'<tr data-api-key="{created.api_key.prefix}" class="row-muted">' in html


def test_key_list_shows_name_prefix_and_never_used(alpha, client_for):
    created = api_key_create(tenant=alpha.tenant, name="Zapier", created_by=alpha.owner)

    html = client_for(alpha).get("/settings/api-keys/").content.decode()

    assert "<strong>Zapier</strong>" in html
    assert f'<code dir="ltr">{created.api_key.prefix}…</code>' in html
    assert "Never" in html


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_cannot_see_create_or_revoke_keys(role, alpha, client_for, member_of):
    created = api_key_create(tenant=alpha.tenant, name="Existing", created_by=alpha.owner)
    client = client_for(alpha, user=member_of(alpha, role))

    page = client.get("/settings/api-keys/")
    create = client.post("/settings/api-keys/", {"name": "Sneaky"})
    revoke = client.post(f"/settings/api-keys/{created.api_key.pk}/revoke/")

    assert [page.status_code, create.status_code, revoke.status_code] == [403, 403, 403]
    assert list(ApiKey.objects.filter(tenant=alpha.tenant).values_list("name", flat=True)) == ["Existing"]
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at is None


def test_plan_without_api_access_says_so_and_creates_no_key(alpha, client_for):
    Subscription.objects.filter(tenant=alpha.tenant).update(plan=Plan.objects.get(slug="free"))
    client = client_for(alpha)

    page = client.get("/settings/api-keys/").content.decode()
    response = client.post("/settings/api-keys/", {"name": "Not allowed"})

    assert "Your plan does not include API access." in page
    assert "Create key" not in page
    assert response.status_code == 403
    assert not ApiKey.objects.filter(tenant=alpha.tenant).exists()


def test_revoking_another_tenants_key_is_refused(alpha, beta, client_for):
    beta_key = api_key_create(tenant=beta.tenant, name="Beta key", created_by=beta.owner)

    response = client_for(alpha).post(f"/settings/api-keys/{beta_key.api_key.pk}/revoke/", follow=True)

    assert "No such API key in this workspace." in response.content.decode()
    assert ApiKey.objects.get(pk=beta_key.api_key.pk).revoked_at is None


def test_api_keys_page_never_shows_another_tenants_keys(alpha, beta, client_for):
    alpha_key = api_key_create(tenant=alpha.tenant, name="Alpha secret integration", created_by=alpha.owner)

    html = client_for(beta).get("/settings/api-keys/").content.decode()

    assert "Alpha secret integration" not in html
    assert alpha_key.api_key.prefix not in html
    assert "No API keys yet." in html
