"""Absolute links into a host of the platform, for e-mails and cross-host redirects.

Cookies are per host, so a link that must land the user on a tenant's portal (an invitation, a
verification, the sign-up hand-off) is built from the tenant's own domain, never from the host
the request happened to arrive on."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from apps.tenants.models import Tenant


def host_url(*, host: str, path: str) -> str:
    """`host` is a bare host name (no port); the scheme and port are the platform's public ones."""
    return f"{settings.PUBLIC_SCHEME}://{host}{settings.PUBLIC_PORT}{path}"


def tenant_host(tenant: Tenant) -> str:
    domain = tenant.get_primary_domain()
    if domain is not None:
        return domain.domain
    return f"{tenant.slug}.{settings.BASE_DOMAIN}"


def tenant_url(*, tenant: Tenant, path: str) -> str:
    return host_url(host=tenant_host(tenant), path=path)


def slug_url(*, slug: str, path: str) -> str:
    """For a workspace that may not exist yet (sign-up sends links before provisioning ends)."""
    return host_url(host=f"{slug}.{settings.BASE_DOMAIN}", path=path)


def tenant_path(name: str, **kwargs: object) -> str:
    """A path on a tenant host, reversed with the tenant URLconf even while serving the public
    host (django-tenants switches the request's URLconf, which `reverse` would otherwise use)."""
    return reverse(name, kwargs=kwargs or None, urlconf=settings.ROOT_URLCONF)
