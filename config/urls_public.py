"""URLs of the bare domain: public site, sign-up, platform admin (and later the license API and
payment webhooks)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("apps.portal.urls_public")),
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
