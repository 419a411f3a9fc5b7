"""The test suite: real PostgreSQL and Redis, fast hashing, no real mail."""

from .base import *
from .base import env

DEBUG = False
PUBLIC_PORT = ""
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Throttling is exercised by its own test with a low rate; keep it out of the way elsewhere.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"principal": env("API_THROTTLE_RATE", default="10000/minute")},
}
AXES_FAILURE_LIMIT = 3

# Keep the suite's Redis traffic apart from a running `make run` on the same server; several
# suites can run side by side with different TEST_REDIS_BASE and TEST_DB_NAME.
_REDIS_BASE = env.int("TEST_REDIS_BASE", default=8)
CELERY_BROKER_URL = redis_db(REDIS_URL, _REDIS_BASE)
CHANNELS_REDIS_URL = redis_db(REDIS_URL, _REDIS_BASE + 1)
CACHE_REDIS_URL = redis_db(REDIS_URL, _REDIS_BASE + 2)
COORDINATION_REDIS_URL = redis_db(REDIS_URL, _REDIS_BASE + 3)
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DB_NAME", default="test_chorus")}
CACHES["default"]["LOCATION"] = CACHE_REDIS_URL
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [CHANNELS_REDIS_URL]
WHITENOISE_USE_FINDERS = True
# Never the real WhatsApp Web: tests point this at their simulator (tests/simulator/conftest.py
# starts one on a free port); the default is the development simulator's address.
WHATSAPP_WEB_URL = env("WHATSAPP_WEB_URL", default="") or "http://127.0.0.1:8001"
