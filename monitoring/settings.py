"""Settings, all read from environment variables (see docs/configuration.md).

With nothing set this is the embedded default: debug mode, a development secret key
generated once into the data folder, SQLite in the data folder, and in-process cache,
channel layer and task execution. ``make run`` starts an embedded Redis and sets
``REDIS_URL`` for its processes.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from monitoring.lib.env import (
    env_bool,
    env_int,
    env_language,
    env_list,
    env_networks,
    env_paths,
    env_str,
    env_time_zone,
    media_storage,
    parse_database_url,
    parse_redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", True)


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        if not DEBUG and (len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure")):
            raise ImproperlyConfigured(
                "DJANGO_SECRET_KEY must be at least 50 random characters in production"
            )
        return key
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG=false")
    # One development key shared by every process of the embedded run, kept across restarts
    # so that sessions and encrypted fields survive them.
    key_file = DATA_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()


def _field_encryption_keys() -> list[str] | None:
    """Keys of the encrypted fields (monitoring/lib/crypto.py), newest first: the first writes,
    every one reads. Unset, SECRET_KEY is the key (in debug mode the generated
    ``dev-secret-key`` file of the data folder)."""
    keys = env_list("FIELD_ENCRYPTION_KEYS", [])
    if not keys:
        return None
    if not DEBUG and any(len(key) < 32 for key in keys):
        raise ImproperlyConfigured(
            "Every FIELD_ENCRYPTION_KEYS entry must be at least 32 random characters in production"
        )
    return keys


FIELD_ENCRYPTION_KEYS = _field_encryption_keys()
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "monitoring",
    "cameras",
    "alerts",
    "billing",
]

MIDDLEWARE = [
    "monitoring.client_address.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "monitoring.timezones.SiteTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "monitoring.urls"
WSGI_APPLICATION = "monitoring.wsgi.application"
ASGI_APPLICATION = "monitoring.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "monitoring.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"), BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: cache, channel layer and Celery broker. Unset means in-process fallbacks, so every
# management command works without any service running.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    _redis = parse_redis_url(REDIS_URL)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis.redis,
            "KEY_PREFIX": "ssd",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: measured faster and without dropped sockets when one alert
            # fans out to a thousand browsers (docs/BENCHMARKS.md).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_redis.redis], "prefix": "ssd-channels"},
        }
    }
    CELERY_BROKER_URL = _redis.celery
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Workers keep their database connections across tasks (monitoring/celery.py).
CELERY_DB_REUSE_MAX = 2**62
CELERY_BEAT_SCHEDULE: dict = {
    "cameras-delete-old-frames": {"task": "cameras.tasks.delete_old_frames", "schedule": 600.0},
    # Usage is rolled up and accounts settled every hour on the hour (seed `欠费处理`).
    "billing-roll-up-usage": {"task": "billing.tasks.roll_up_usage", "schedule": crontab(minute=0)},
    "alerts-prune-live-events": {"task": "alerts.tasks.prune_live_events", "schedule": 600.0},
    # Alerts whose condition has stayed clear resolve by themselves; cameras without
    # analysis data are left alone (offline is not clear).
    "monitoring-resolve-stale-alerts": {
        "task": "monitoring.tasks.resolve_stale_alerts",
        "schedule": 15.0,
    },
    # Frames whose whole worker died under them are marked dropped, with the reason.
    "monitoring-close-abandoned-runs": {
        "task": "monitoring.tasks.close_abandoned_runs",
        "schedule": 60.0,
    },
    "billing-settle-accounts": {
        "task": "billing.tasks.settle_accounts",
        "schedule": crontab(minute=0),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The test suite creates many users: a fast hasher there, never outside debug mode.
if env_bool("DJANGO_TEST_FAST_HASHER", False):
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_TEST_FAST_HASHER is for the test suite only")
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed logins allowed per username and client address, and per address alone, within
# the window before further attempts are refused.
LOGIN_FAILURES_PER_USER = env_int("LOGIN_FAILURES_PER_USER", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Reverse proxies in front of the web process, each appending to X-Forwarded-For; the
# client address is the entry the outermost one wrote (monitoring/client_address.py).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LANGUAGE_CODE = env_language("LANGUAGE_CODE", "zh-hans", [code for code, _name in LANGUAGES])
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_time_zone("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True
# 24-hour English formats (monitoring/formats/en); the zone is the site's (monitoring.timezones).
FORMAT_MODULE_PATH = ["monitoring.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "media/"
# Frames and evidence: local disk under MEDIA_ROOT, or an S3-compatible bucket when
# S3_BUCKET is set (monitoring.lib.env.media_storage, docs/configuration.md).
STORAGES = {
    "default": media_storage(),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Folders a "file" camera source may read from, checked after resolving links; the
# product's own data (DATA_DIR, MEDIA_ROOT) is refused even under one of them.
CAMERA_FILE_ROOTS = env_paths("CAMERA_FILE_ROOTS", [BASE_DIR / "camera-files"])
# Non-global addresses (loopback, link-local, private) an "http" camera source may ask
# for snapshots: a camera LAN must be listed in production. Debug mode allows loopback.
CAMERA_HTTP_ALLOWED_NETWORKS = env_networks(
    "CAMERA_HTTP_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"] if DEBUG else []
)
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    # Token first, so that an anonymous API request gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "monitoring.lib.apiutils.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Site safety dashboard API",
    "DESCRIPTION": "Sites, cameras, regions, alerts and billing of the safety dashboard.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Production hardening: on whenever debug is off (``check --deploy`` is clean then).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# /healthz is probed over plain HTTP by load balancers inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Metering: how long a call waits for a QPS slot before it is refused, and the QPS assumed
# for a CTYun account (the vendor documents none).
METERING_QPS_WAIT = float(env_int("METERING_QPS_WAIT_MS", 1000, minimum=0)) / 1000
METERING_CTYUN_QPS = env_int("METERING_CTYUN_QPS", 5, minimum=1)

# The vendor emulator under /sandbox/ (see docs/sandbox.md). Limits are off unless set.
# Off unless debug mode is on or SANDBOX_ENABLED says so; in production it answers (and
# runs the on-box analyzer) only for callers holding credentials set for this server:
# the public defaults below are refused there.
_SANDBOX_CREDENTIALS = {
    "BAIDU_API_KEY": ("SANDBOX_BAIDU_API_KEY", "sandbox-ak"),
    "BAIDU_SECRET_KEY": ("SANDBOX_BAIDU_SECRET_KEY", "sandbox-sk"),
    "CTYUN_AK": ("SANDBOX_CTYUN_AK", "sandbox-ak"),
    "CTYUN_SK": ("SANDBOX_CTYUN_SK", "sandbox-sk"),
    "CTYUN_APPKEY": ("SANDBOX_CTYUN_APPKEY", "sandbox-appkey"),
}
SANDBOX = {
    "ENABLED": env_bool("SANDBOX_ENABLED", DEBUG),
    **{key: env_str(name, default) for key, (name, default) in _SANDBOX_CREDENTIALS.items()},
    # Requests per second per API and credential; 0 means no limit.
    "QPS_LIMIT": env_int("SANDBOX_QPS_LIMIT", 0, minimum=0),
    # Calls allowed per API per day (Baidu 17) and in total (Baidu 19, CTYun 51003); 0 = off.
    "DAILY_QUOTA": env_int("SANDBOX_DAILY_QUOTA", 0, minimum=0),
    "TOTAL_QUOTA": env_int("SANDBOX_TOTAL_QUOTA", 0, minimum=0),
}

if SANDBOX["ENABLED"] and not DEBUG:
    _public = [
        name for key, (name, default) in _SANDBOX_CREDENTIALS.items() if SANDBOX[key] == default
    ]
    if _public:
        raise ImproperlyConfigured(
            "SANDBOX_ENABLED=true in production needs credentials of its own, not the public "
            f"defaults: set {', '.join(_public)} (or leave the sandbox off)"
        )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Vendor credentials in logged URLs (token requests, access_token) are redacted.
    "filters": {"redact_secrets": {"()": "monitoring.redaction.RedactSecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    # httpx logs whole request URLs at INFO, and Baidu's carry credentials and tokens.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
