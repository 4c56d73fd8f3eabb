"""IPP Site settings: one module, every value read from the environment.

Embedded default: SQLite and files under IPP_DATA_DIR (./var). Production: PostgreSQL
through DATABASE_URL and keys through the environment. Nothing secret lives in the repo.
"""

from pathlib import Path

import dj_database_url

from core import keys
from core.env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent

IPP_DATA_DIR = Path(envstr("IPP_DATA_DIR", str(BASE_DIR / "var"))).resolve()
IPP_KEYS_DIR = IPP_DATA_DIR / "keys"
IPP_BLOB_DIR = IPP_DATA_DIR / "blobs"
IPP_MAX_PACKAGE_MB = envint("IPP_MAX_PACKAGE_MB", 100, minimum=1)

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
else:
    IPP_DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": IPP_DATA_DIR / "ipp.sqlite3",
            # Writers queue instead of failing at once with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous sees nothing
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
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
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Uploads above this go to a temporary file, so a large package is never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = envstr("IPP_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = envstr("IPP_DEFAULT_FROM_EMAIL", "ipp-site@localhost")
# Absolute links in e-mails (e.g. https://ipp.example.com); relative when unset.
IPP_SITE_URL = envstr("IPP_SITE_URL", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated API call is answered 401 with WWW-Authenticate.
        "ippsite.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "ippsite.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "ippsite.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IPP Site API",
    "DESCRIPTION": "Infrastructures, modules, per-module permissions, IPP marks and transfers.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # One name for the level choices (none, reference, open, publish) across serializers.
    "ENUM_NAME_OVERRIDES": {"LevelEnum": "ippsite.registry_ui.api.common.LEVEL_NAMES"},
    "PREPROCESSING_HOOKS": ["ippsite.api_views.drop_slash_aliases"],
}

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
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = envlist("IPP_CSRF_TRUSTED_ORIGINS", [])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("IPP_LOG_LEVEL", "WARNING")},
}
