"""URLs of a tenant host `<slug>.<BASE_DOMAIN>`: the customer portal, the API and the workspace
admin (platform and reseller staff only; apps.core.tenant_admin)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.api.views import ApiNotFoundView
from apps.core.tenant_admin import tenant_admin_site

urlpatterns = [
    path("api/v1/", include("config.urls_api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Any other /api/ path: a 404 in the API's error shape, not the portal's HTML page.
    re_path(r"^api/", ApiNotFoundView.as_view(), name="api-not-found"),
    path("admin/", tenant_admin_site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.portal.urls")),
]

# 500s under /api/ in the API's error shape; Django's page elsewhere.
handler500 = "apps.core.api.errors.server_error"
