"""Production: every secret comes from the environment; missing ones stop the process."""

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import env

DEBUG = False
LOG_JSON = env.bool("LOG_JSON", default=True)
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_JSON else "plain"
# Celery and uvicorn bring their own handlers and formats; route theirs through the same console
# handler so every process logs one format. Either order works: Django's dictConfig replaces the
# handlers uvicorn installed first, and Celery leaves loggers that already have a handler alone.
for _logger_name in ("celery", "celery.task", "uvicorn", "uvicorn.error", "uvicorn.access"):
    LOGGING["loggers"][_logger_name] = {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
# Without this the worker replaces the root logger's handlers with its own plain-text one.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Required secrets: no defaults in production.
REQUIRED_SECRETS = ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL")
_missing = [name for name in REQUIRED_SECRETS if not env(name, default="")]
if _missing:
    raise ImproperlyConfigured(f"Missing required environment variables: {', '.join(_missing)}")
SECRET_KEY = env("SECRET_KEY")
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
PUBLIC_SCHEME = "https"
