"""IPP Site settings: one module, every value read from the environment.

Embedded default: SQLite and files under IPP_DATA_DIR (./var). Production: PostgreSQL
through DATABASE_URL and keys through the environment. Nothing secret lives in the repo.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured

from core import keys
from core.env import envbool, envchoice, envint, envlist, envstr
from ippsite.uploads import sweep_uploads

BASE_DIR = Path(__file__).resolve().parent.parent

# Everything the site writes (database, blobs, keys, spooled uploads) is for its own user
# only, from the first write: directories 0700, files 0600 (SPEC §10). The system check
# ippsite.E001 reports anything under IPP_DATA_DIR that is not.
os.umask(0o077)

IPP_DATA_DIR = Path(envstr("IPP_DATA_DIR", str(BASE_DIR / "var"))).resolve()
IPP_DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
IPP_KEYS_DIR = IPP_DATA_DIR / "keys"
IPP_BLOB_DIR = IPP_DATA_DIR / "blobs"
# Where encrypted source lives (registry/blobs): files under IPP_BLOB_DIR, or database rows
# that every node sharing DATABASE_URL reads.
IPP_BLOB_STORE = envchoice("IPP_BLOB_STORE", "filesystem", ("filesystem", "database"))
IPP_MAX_PACKAGE_MB = envint("IPP_MAX_PACKAGE_MB", 100, minimum=1)
# API tokens from POST /api/v1/auth/token sign in for this many days (SPEC §7).
IPP_TOKEN_DAYS = envint("IPP_TOKEN_DAYS", 30, minimum=1)
# Invitation links (SPEC §3) can be accepted for this many days.
IPP_INVITATION_DAYS = envint("IPP_INVITATION_DAYS", 7, minimum=1)

DEBUG = envbool("IPP_DEBUG", False)

# IPP_SECRET_KEY, else generated once into IPP_KEYS_DIR/secret/ (core.keys).
SECRET_KEY = keys.secret_key(IPP_KEYS_DIR)
ALLOWED_HOSTS = envlist("IPP_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    "crispy_forms",
    "crispy_bootstrap5",
    "ippsite",
    "audit",
    "registry",
    "permissions",
    "ipp",
    "portal",
]

MIDDLEWARE = [
    # First: times the whole answer, whatever later middleware decides.
    "ippsite.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before CSRF, which would read (and spool to disk) any multipart body it is sent.
    "ippsite.middleware.UploadGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # A session that still owes its second factor may only open the page that takes it.
    "ippsite.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a locked-out sign-in into ippsite.security's answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ippsite.urls"
WSGI_APPLICATION = "ippsite.wsgi.application"

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
                "ippsite.context_processors.navigation",
            ],
        },
    },
]

_database_url = envstr("DATABASE_URL")
# With a shared database every node must hold the same keys: `manage.py check` refuses a
# node that would generate one (registry/checks.py) unless this says a generated key is fine.
IPP_ALLOW_GENERATED_KEYS = envbool("IPP_ALLOW_GENERATED_KEYS", not _database_url)
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
else:
    _sqlite = IPP_DATA_DIR / "ipp.sqlite3"
    if _sqlite.exists():  # created before the umask was set: make it private now
        _sqlite.chmod(0o600)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _sqlite,
            # Writers queue instead of failing at once with "database is locked". WAL: pages
            # keep reading (a snapshot) while a publish or an audit append writes, and a
            # commit does not wait for every reader to finish (the rollback journal's
            # exclusive lock does both). The mode is kept in the file; the -wal and -shm
            # files beside it get the database file's mode. synchronous stays FULL: a
            # committed audit entry survives a power cut. The -wal file is cut back to
            # 64 MiB after each checkpoint (a large source stored in the database would
            # otherwise leave it at that size until the last connection closes).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA journal_size_limit=67108864",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# No guardian ObjectPermissionBackend: module levels are answered by permissions.door
# alone. Guardian's backend read grant rows without the door's rules (a non-member's stray
# grant counted), so `user.has_perm(perm, module)` said yes where the door said none.
# Guardian stays installed for its grant tables (permissions.models), written only by the
# grant service; nothing here asks `has_perm` about an object, so without the backend it
# answers False for every object (admin uses model permissions).
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username before any password is checked.
    "ippsite.security.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SILENCED_SYSTEM_CHECKS = [
    # Guardian's object-permission backend is not used (see above): only guardian's
    # decorators, mixins and template tags need it, and we use none of them.
    "guardian.W001",
    # Axes warns when the lockout ignores the client address; SPEC §7 locks per username
    # on purpose (see AXES_LOCKOUT_PARAMETERS below).
    "axes.W006",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous sees nothing

# Argon2 for new and changed passwords; PBKDF2 and scrypt hashes still verify, and Django
# rewrites them with Argon2 at the user's next successful sign-in (SPEC §10).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Validates nothing: its password_changed() hook revokes the user's API tokens.
    {"NAME": "ippsite.tokens.RevokeTokensOnPasswordChange"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage",
        # Public files: readable by a front proxy, whatever FILE_UPLOAD_PERMISSIONS says.
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}

# Sign-in lockout (SPEC §7), counted by django-axes per username only: an attacker
# cycling addresses is still stopped, and a shared office address locks nobody else.
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
# Failures age out with the cool-off only: a right password must not wipe the count,
# or it would also wipe the wrong second-factor codes that follow it.
AXES_RESET_ON_SUCCESS = False
# The lock lasts 15 minutes from the failure that set it; trying meanwhile does not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "ippsite.security.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins need no second log beside the audit
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp"]  # masked in logs and records
AXES_VERBOSE = False

# Second factor (SPEC §10): TOTP plus recovery codes; who must have one.
IPP_REQUIRE_2FA = envstr("IPP_REQUIRE_2FA", "none").strip().lower()
if IPP_REQUIRE_2FA not in {"none", "staff", "all"}:
    raise ImproperlyConfigured(
        f"IPP_REQUIRE_2FA must be none, staff or all, got {IPP_REQUIRE_2FA!r}"
    )
OTP_TOTP_ISSUER = "IPP Site"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Uploads above this go to a temporary file, so a large package is never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Spooled uploads stay under IPP_DATA_DIR (private), not in a shared /tmp; what a killed
# worker leaves there is swept below at start-up and by `manage.py sweep_uploads`.
FILE_UPLOAD_TEMP_DIR = str(IPP_DATA_DIR / "tmp")
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
IPP_UPLOAD_SWEEP_AGE = timedelta(minutes=10)
os.makedirs(FILE_UPLOAD_TEMP_DIR, mode=0o700, exist_ok=True)
# Once per process, at start-up: what a worker killed mid-upload left behind.
sweep_uploads(FILE_UPLOAD_TEMP_DIR, older_than=IPP_UPLOAD_SWEEP_AGE)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = envstr("IPP_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# A mail server that does not answer fails the sending job after this many seconds (the
# job is retried later); it never holds a request.
EMAIL_TIMEOUT = envint("IPP_EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("IPP_DEFAULT_FROM_EMAIL", "ipp-site@localhost")
# Absolute links in e-mails (e.g. https://ipp.example.com); relative when unset.
IPP_SITE_URL = envstr("IPP_SITE_URL", "")

# Who may read /metrics besides support: addresses or networks (ippsite/metrics.py).
IPP_METRICS_ALLOWED = envlist("IPP_METRICS_ALLOWED", [])
for _network in IPP_METRICS_ALLOWED:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"IPP_METRICS_ALLOWED: {_network!r} is not an IP address or network"
        ) from None

# Jobs (ippsite/jobs.py): Celery over IPP_BROKER_URL (Redis), or in-process when unset.
IPP_BROKER_URL = envstr("IPP_BROKER_URL", "")
CELERY_BROKER_URL = IPP_BROKER_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not IPP_BROKER_URL
# In-process, a failed job is logged, not raised into the request whose commit sent it.
CELERY_TASK_EAGER_PROPAGATES = False
# A job is acknowledged when it is done, not when it is taken: a worker killed mid-job
# leaves it to another (every job is idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
# Redis gives a job taken by a worker that died (and so never acknowledged it) to another
# worker after this many seconds: keep it above the longest job (a longer job may run twice).
IPP_JOB_VISIBILITY_TIMEOUT = envint("IPP_JOB_VISIBILITY_TIMEOUT", 3600, minimum=1)
# kombu looks for unacknowledged jobs of dead workers every interval x throttle seconds
# (10 x 10 by default): keep that well under the visibility timeout, so a killed worker's
# job comes back soon after the timeout and not up to 100 s later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": IPP_JOB_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": max(1, min(10, IPP_JOB_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1 if IPP_JOB_VISIBILITY_TIMEOUT < 1000 else 10,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# `celery -A ippsite beat` (or a worker with -B, as bin/cluster runs it) sends these.
CELERY_BEAT_SCHEDULE = {
    "verify-audit-logs": {
        "task": "audit.verify_logs",
        "schedule": envint("IPP_VERIFY_EVERY_MINUTES", 60, minimum=1) * 60.0,
    },
    "sweep-blobs": {"task": "registry.sweep_blobs", "schedule": 6 * 3600.0},
    "sweep-uploads": {"task": "ippsite.sweep_uploads", "schedule": 3600.0},
    "clear-sessions": {"task": "ippsite.clear_sessions", "schedule": 24 * 3600.0},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated API call is answered 401 with WWW-Authenticate.
        "ippsite.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in (SPEC §7); the few operations that take an upload name their own parsers.
    "DEFAULT_PARSER_CLASSES": ["ippsite.api_parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "ippsite.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "ippsite.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "ippsite.api_schema.ApiSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IPP Site API",
    "DESCRIPTION": "Infrastructures, modules, per-module permissions, IPP marks and transfers.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is for signed-in callers (README "The API schema and the fuzz test").
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Request bodies get their own components, so they carry what validation demands
    # (minLength 1 for non-blank strings, write-only fields) and responses what is sent.
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for the level choices (none, reference, open, publish) across serializers.
    "ENUM_NAME_OVERRIDES": {"LevelEnum": "ippsite.registry_ui.api.common.LEVEL_NAMES"},
    "PREPROCESSING_HOOKS": ["ippsite.api_views.drop_slash_aliases"],
}

# Database sessions that carry their user's id, so a user's sessions end in one DELETE
# (ippsite/sessions.py). django.contrib.sessions stays installed: its clearsessions command
# (which clears this engine's model) and its table, which migration ippsite.0006 empties.
SESSION_ENGINE = "ippsite.sessions"

# Security: secure by default when not in debug.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the upload page's script reads it for XHR uploads
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("IPP_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = envbool("IPP_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = envbool("IPP_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("IPP_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Behind the load balancer (deploy/nginx/), which terminates TLS and sets X-Forwarded-Proto:
# trust that header only then. A node reached directly must not believe a client's claim
# that it came over HTTPS.
IPP_BEHIND_PROXY = envbool("IPP_BEHIND_PROXY", False)
if IPP_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers probe /healthz and Prometheus scrapes /metrics over plain HTTP, node by
# node: answer them there instead of redirecting.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^metrics/?$"]
CSRF_TRUSTED_ORIGINS = envlist("IPP_CSRF_TRUSTED_ORIGINS", [])

# Content-Security-Policy on every response (SPEC §10): scripts and styles only from our
# own static files, no inline code of any kind (behaviour lives in static/js/ and is
# wired with data-* attributes). data: images are Bootstrap's inline SVG icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        "style-src": [CSP_SELF],
        "img-src": [CSP_SELF, "data:"],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_NONE],
        "form-action": [CSP_SELF],
        "frame-ancestors": [CSP_NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("IPP_LOG_LEVEL", "WARNING")},
}
