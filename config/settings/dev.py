"""Local development: `make run`."""

from .base import *
from .base import env

DEBUG = env.bool("DEBUG", default=True)
PUBLIC_PORT = env("PUBLIC_PORT", default=":8000")
ALLOWED_HOSTS = ["*"]
CSRF_TRUSTED_ORIGINS = ["http://localhost:8000", "http://*.localhost:8000"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhatsApp Web is the local simulator (`make run` starts it; apps/simulator) unless set.
WHATSAPP_WEB_URL = (
    env("WHATSAPP_WEB_URL", default="")
    or f"http://{env('SIM_HOST', default='') or '127.0.0.1'}:{env('SIM_PORT', default='') or '8001'}"
)
# Serve static files straight from the source folders (no collectstatic in development).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
