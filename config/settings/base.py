"""Settings shared by every environment. The environment is read here and nowhere else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# CHORUS_READ_DOTENV=0 ignores .env (tests that must not see a developer's local settings).
if env.bool("CHORUS_READ_DOTENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The embedded default: project-local services started by config/devservices.py.
EMBEDDED_DATABASE_URL = f"postgres://chorus@127.0.0.1:{env.int('CHORUS_PG_PORT', default=54329)}/chorus"
EMBEDDED_REDIS_URL = f"redis://127.0.0.1:{env.int('CHORUS_REDIS_PORT', default=63799)}/0"

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
# Fernet key for secrets stored in the database (session state, proxy credentials).
# Development derives one from SECRET_KEY; production requires its own.
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
BASE_DOMAIN = env("BASE_DOMAIN", default="localhost")
# Port shown in printed and e-mailed links (":8000" in development, empty behind a proxy).
PUBLIC_PORT = env("PUBLIC_PORT", default="")
PUBLIC_SCHEME = env("PUBLIC_SCHEME", default="http")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- apps -------------------------------------------------------------------------------------

SHARED_APPS = [
    # Before django_tenants so our create_tenant command (clone-based) wins over its own.
    "apps.tenants",
    "django_tenants",
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # OpClass index expressions and trigram lookups (contacts search indexes).
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "axes",
    "import_export",
    "apps.core",
    "apps.accounts",
    "apps.billing",
    "apps.licenses",
    "apps.portal",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    # Per-tenant periodic tasks (campaign schedules) live in the tenant's schema.
    "django_celery_beat",
    "apps.senders",
    "apps.contacts",
    "apps.campaigns",
    "apps.inbox",
    "apps.chatbots",
    "apps.webhooks",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New tenants are cloned from this migrated schema (fast) instead of running migrations.
TENANT_BASE_SCHEMA = "tenant_template"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

MIDDLEWARE = [
    "apps.core.middleware.HealthCheckMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.accounts.middleware.TenantMembershipMiddleware",
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.portal.context_processors.portal",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

# --- data -------------------------------------------------------------------------------------

DATABASE_URL = env("DATABASE_URL", default="") or EMBEDDED_DATABASE_URL
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_db(url: str, db: int) -> str:
    """The same Redis server with another logical database, so roles never clash on keys."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


REDIS_URL = env("REDIS_URL", default="") or EMBEDDED_REDIS_URL
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or redis_db(REDIS_URL, 0)
CHANNELS_REDIS_URL = redis_db(REDIS_URL, 1)
CACHE_REDIS_URL = redis_db(REDIS_URL, 2)
# Pacing buckets and sender leases (sending engine).
COORDINATION_REDIS_URL = redis_db(REDIS_URL, 3)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "TIMEOUT": 300,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [CHANNELS_REDIS_URL], "capacity": 1500, "expiry": 10},
    }
}

# --- auth -------------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login lockout: 5 failures per user+IP locks for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Chorus <no-reply@chorus.local>")

# --- API --------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.api.authentication.TenantJWTAuthentication",
        "apps.accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.api.permissions.IsTenantMember"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"principal": env("API_THROTTLE_RATE", default="100/minute")},
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chorus API",
    "DESCRIPTION": "WhatsApp outreach for your business: numbers, contacts, campaigns, inbox.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",  # no CDN, not even for the favicon
    # Distinct names for the role choice sets, so "role" fields of several apps do not collide.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "apps.accounts.models.Role",
        "ApiKeyRoleEnum": "apps.accounts.services.api_keys.KEY_ROLE_CHOICES",
        "ImportJobStateEnum": "apps.contacts.api.serializers.IMPORT_STATE_CHOICES",
        "ContactExportStateEnum": "apps.contacts.api.serializers.CONTACT_EXPORT_STATE_CHOICES",
        "MessageStateEnum": "apps.senders.models.MessageState",
        "CampaignStateEnum": "apps.campaigns.api.serializers.CAMPAIGN_STATE_CHOICES",
        "CampaignRunStateEnum": "apps.campaigns.api.serializers.CAMPAIGN_RUN_STATE_CHOICES",
    },
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery -----------------------------------------------------------------------------------

CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues are chosen by task name here (Celery 5.7 deprecates `queue=` on the task itself):
# everything else goes to `default`.
CELERY_TASK_ROUTES = {
    "senders.drive_profile": {"queue": "senders"},
    # Sign-up waits on it: keep it on `default`, away from queues bulk work can hold up.
    "tenants.provision": {"queue": "default"},
    "imports.*": {"queue": "imports"},
    "webhooks.*": {"queue": "webhooks"},
}
CELERY_TASK_QUEUES_NAMES = ("default", "imports", "webhooks", "senders")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "tenant_schemas_celery.db_scheduler:TenantAwareDatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Platform-wide schedules (run in the public schema); tenants' own schedules live in their schemas.
CELERY_BEAT_SCHEDULE = {
    # Offer profiles with due messages to the sender workers; restarts those whose worker died.
    "senders-dispatch": {"task": "senders.dispatch", "schedule": 10.0, "tenant_schemas": ["public"]},
    # Restart lost campaign ticks and materializations; resume campaigns paused by plan limits.
    "campaigns-watchdog": {"task": "campaigns.watchdog", "schedule": 15.0, "tenant_schemas": ["public"]},
    # Delete abandoned import-wizard uploads and expired export files of every workspace.
    "contacts-files-sweep": {"task": "contacts.files_sweep", "schedule": 3600.0, "tenant_schemas": ["public"]},
    # Every workspace's contacts and numbers onto its usage row for the day (admin and billing).
    "usage-rollup": {"task": "contacts.usage_rollup", "schedule": 3600.0, "tenant_schemas": ["public"]},
}

# --- i18n, time, static -----------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("hi", _("Hindi")),
    ("mr", _("Marathi")),
    ("fa", _("Persian")),
]
LOCALE_PATHS = [BASE_DIR / "apps" / "core" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# --- logging ----------------------------------------------------------------------------------

LOG_JSON = env.bool("LOG_JSON", default=False)
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_JSON else "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- admin (django-unfold) --------------------------------------------------------------------


def _admin_link(name: str):
    from django.urls import reverse_lazy

    return reverse_lazy(f"admin:{name}")


# Platform-only sections; reseller staff see Tenants, People and Billing, scoped by the admins.
_PLATFORM_ONLY = "apps.core.admin.superuser_only"

UNFOLD = {
    "SITE_TITLE": "Chorus admin",
    "SITE_HEADER": "Chorus",
    "SITE_SUBHEADER": "Platform admin",
    "SITE_SYMBOL": "forum",
    "SITE_URL": "/",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "ENVIRONMENT": "apps.core.admin.environment_callback",
    "DASHBOARD_CALLBACK": "apps.tenants.admin.dashboard_callback",
    "BORDER_RADIUS": "6px",
    "COLORS": {
        # Tailwind "emerald": WhatsApp-adjacent green for the primary colour.
        "primary": {
            "50": "oklch(97.9% .021 166.113)",
            "100": "oklch(95% .052 163.051)",
            "200": "oklch(90.5% .093 164.15)",
            "300": "oklch(84.5% .143 164.978)",
            "400": "oklch(76.5% .177 163.223)",
            "500": "oklch(69.6% .17 162.48)",
            "600": "oklch(59.6% .145 163.225)",
            "700": "oklch(50.8% .118 165.612)",
            "800": "oklch(43.2% .095 166.913)",
            "900": "oklch(37.8% .077 168.94)",
            "950": "oklch(26.2% .051 172.552)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": _PLATFORM_ONLY,
        "navigation": [
            {
                "title": _("Overview"),
                "items": [{"title": _("Dashboard"), "icon": "dashboard", "link": _admin_link("index")}],
            },
            {
                "title": _("Tenants"),
                "collapsible": False,
                "items": [
                    {"title": _("Tenants"), "icon": "apartment", "link": _admin_link("tenants_tenant_changelist")},
                    {"title": _("Domains"), "icon": "language", "link": _admin_link("tenants_domain_changelist")},
                    {"title": _("Resellers"), "icon": "storefront", "link": _admin_link("tenants_reseller_changelist")},
                    {
                        "title": _("Sign-up provisioning"),
                        "icon": "pending_actions",
                        "link": _admin_link("tenants_tenantprovisioning_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                ],
            },
            {
                "title": _("People"),
                "items": [
                    {"title": _("Users"), "icon": "person", "link": _admin_link("accounts_user_changelist")},
                    {"title": _("Memberships"), "icon": "badge", "link": _admin_link("accounts_membership_changelist")},
                ],
            },
            {
                "title": _("Billing"),
                "items": [
                    {"title": _("Plans"), "icon": "sell", "link": _admin_link("billing_plan_changelist")},
                    {
                        "title": _("Subscriptions"),
                        "icon": "receipt_long",
                        "link": _admin_link("billing_subscription_changelist"),
                    },
                    {"title": _("Usage"), "icon": "monitoring", "link": _admin_link("billing_usagerecord_changelist")},
                ],
            },
            {
                "title": _("Scheduling"),
                "collapsible": True,
                "items": [
                    {
                        "title": _("Periodic tasks"),
                        "icon": "schedule",
                        "link": _admin_link("django_celery_beat_periodictask_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                    {
                        "title": _("Intervals"),
                        "icon": "timer",
                        "link": _admin_link("django_celery_beat_intervalschedule_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                    {
                        "title": _("Crontabs"),
                        "icon": "event_repeat",
                        "link": _admin_link("django_celery_beat_crontabschedule_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                    {
                        "title": _("Clocked"),
                        "icon": "alarm",
                        "link": _admin_link("django_celery_beat_clockedschedule_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                ],
            },
            {
                "title": _("Security"),
                "collapsible": True,
                "items": [
                    {
                        "title": _("Login attempts"),
                        "icon": "lock",
                        "link": _admin_link("axes_accessattempt_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                    {
                        "title": _("Login failures"),
                        "icon": "gpp_bad",
                        "link": _admin_link("axes_accessfailurelog_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                    {
                        "title": _("Access log"),
                        "icon": "history",
                        "link": _admin_link("axes_accesslog_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                    {
                        "title": _("Groups"),
                        "icon": "group",
                        "link": _admin_link("auth_group_changelist"),
                        "permission": _PLATFORM_ONLY,
                    },
                ],
            },
        ],
    },
}


def _tenant_admin_link(name: str):
    from django.urls import reverse_lazy

    return reverse_lazy(f"tenant_admin:{name}")


# The workspace admin on tenant hosts (apps.core.tenant_admin): the same look, its own sidebar.
UNFOLD_TENANT = {
    **{key: value for key, value in UNFOLD.items() if key not in ("SIDEBAR", "DASHBOARD_CALLBACK")},
    "SITE_TITLE": "Chorus workspace admin",
    "SITE_SUBHEADER": "Workspace admin",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": [
            {
                "title": _("Contacts"),
                "collapsible": False,
                "items": [
                    {
                        "title": _("Contacts"),
                        "icon": "contacts",
                        "link": _tenant_admin_link("contacts_contact_changelist"),
                    },
                    {"title": _("Groups"), "icon": "group", "link": _tenant_admin_link("contacts_group_changelist")},
                    {
                        "title": _("Saved filters"),
                        "icon": "filter_alt",
                        "link": _tenant_admin_link("contacts_savedfilter_changelist"),
                    },
                    {
                        "title": _("Suppressed numbers"),
                        "icon": "block",
                        "link": _tenant_admin_link("contacts_suppressednumber_changelist"),
                    },
                ],
            },
        ],
    },
}

# --- sending engine ---------------------------------------------------------------------------

# Multiplies every sending delay (gaps, batch pauses, rate-limit and retry backoff). 1.0 in
# production; tests and benchmarks shrink time with it.
PACING_TIME_SCALE = env.float("PACING_TIME_SCALE", default=1.0)

# Chromium for Playwright: empty = Playwright's own browser when installed (`playwright install
# chromium`), else Debian's /usr/bin/chromium.
CHROMIUM_PATH = env("CHROMIUM_PATH", default="")
# Chromium's own sandbox; turned off for root (Chromium refuses it) and where the host cannot
# give it user namespaces (containers under Docker's default seccomp profile).
CHROMIUM_SANDBOX = env.bool("CHROMIUM_SANDBOX", default=True)
WHATSAPP_WEB_URL = env("WHATSAPP_WEB_URL", default="") or "https://web.whatsapp.com"
# Browsers one sender host keeps open at once; more profiles wait for a free slot.
SENDER_MAX_ACTIVE_PROFILES = env.int("SENDER_MAX_ACTIVE_PROFILES", default=5)
# A profile with nothing to send is parked (state saved, browser closed) after this long.
SENDER_IDLE_PARK_S = env.float("SENDER_IDLE_PARK_S", default=120.0)
# Lease time-to-live; the holder renews it every third of this.
SENDER_LEASE_TTL_S = env.float("SENDER_LEASE_TTL_S", default=30.0)
# Milliseconds per typed character (human pace, scaled by PACING_TIME_SCALE).
SENDER_TYPING_DELAY_MS = env.int("SENDER_TYPING_DELAY_MS", default=35)
# Browser step timeouts (seconds).
SENDER_PAGE_TIMEOUT_S = env.float("SENDER_PAGE_TIMEOUT_S", default=45.0)
SENDER_SENT_TICK_TIMEOUT_S = env.float("SENDER_SENT_TICK_TIMEOUT_S", default=30.0)
# How long a QR screen is kept open waiting for a scan before the profile gives up.
SENDER_QR_TIMEOUT_S = env.float("SENDER_QR_TIMEOUT_S", default=180.0)
# "browser" drives WhatsApp Web in Chromium; "null" sends nothing and confirms at once (ledger
# benchmarks, load tests). Browsers start with a fresh context from the stored session state,
# so a sender host keeps no profile directories.
SENDER_TRANSPORT = env("SENDER_TRANSPORT", default="browser")

# --- product ----------------------------------------------------------------------------------

# Every signed-up tenant starts on this plan (seeded by the billing migration).
DEFAULT_PLAN_SLUG = "free"
# How long a sign-up's one-time login link into the new tenant host stays valid.
HANDOFF_TOKEN_MAX_AGE_S = 120
