"""Tonight settings, read from the environment.

Every setting that differs between a laptop, CI and production comes from an
environment variable (django-environ); the defaults are the ones a first local
run needs. Production must set ``SECRET_KEY`` and ``DATABASE_URL``: with debug off
and either missing the process refuses to start rather than sign sessions with a
key that is public in this repository, or write to an SQLite file in its container.
An ``ALLOWED_HOSTS`` set to nothing refuses it too, rather than refuse every request.
A value that does not read (a word where a number goes) refuses the start too,
naming the variable (config.environment).
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from django.core.exceptions import ImproperlyConfigured

from config.environment import (
    Env,
    cors_allowed_origins,
    invalid,
    log_level,
    read_dotenv,
    storages,
    throttle_rate,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = Env()
read_dotenv()

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = _DEV_SECRET_KEY

# Without spaces and empty entries ("a.example, b.example" allowed " b.example", which no Host
# header is). None at all with debug off refuses the start, as a missing SECRET_KEY does:
# Django answered every request 400 while /healthz, answered before host validation, stayed
# green, and only `check --deploy` said why (security.W020, a warning). With debug on
# Django serves localhost whatever this says.
ALLOWED_HOSTS = [
    host.strip()
    for host in env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
    if host.strip()
]
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is empty. Set it to the names clients reach the site by, "
        "comma-separated (tonight.example.com), or unset it for the local default "
        "(127.0.0.1,localhost,[::1],testserver); every request would be refused (400)."
    )
# Origins (scheme and host, e.g. https://tonight.example.com) whose forms may post here:
# needed when the proxy in front rewrites the Host or does not say it spoke https.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# TLS ends at a proxy in front of gunicorn, which talks plain http to it. Believing the
# proxy's X-Forwarded-Proto makes Django see https: the admin's Origin check passes and
# absolute URLs (artwork images in the homepage JSON) are https. Opt-in only, because a
# client could send the header itself when nothing in front strips or sets it.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Likewise opt-in: the proxy's X-Forwarded-Host instead of Host (still held to ALLOWED_HOSTS).
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
# Likewise opt-in: the client's address from X-Forwarded-For, which the sign-in lockout counts
# by (AXES_* below). The number of proxies in front that each append to it: usually 1 (nginx
# with $proxy_add_x_forwarded_for, Caddy, a load balancer). 0: the connection's address, which
# behind a proxy is the proxy's, the same for every client.
TRUST_X_FORWARDED_FOR = env.int("TRUST_X_FORWARDED_FOR", default=0)
if TRUST_X_FORWARDED_FOR < 0:
    raise ImproperlyConfigured("TRUST_X_FORWARDED_FOR is a number of proxies: 0 or more.")
# Redirect http to https (behind a proxy only together with TRUST_X_FORWARDED_PROTO, or
# every request looks like http and redirects forever), and tell browsers to stay on https.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
# Both are promises about every subdomain and hard to take back: off unless asked for.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

INSTALLED_APPS = [
    "config.apps.TonightAdminConfig",  # django.contrib.admin with console.admin_site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # OpClass in an index (the admin searches' trigram indexes, config.search_indexes)
    # compiles only with the app's expression wrappers registered; harmless on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",  # its system checks refuse the settings of django-csp 3, which 4 ignores
    "corsheaders",  # its system checks read the CORS_* settings below
    "catalog",
    "regions",
    "accounts",
    "profiles",
    "artwork",
    "recommendations",
    "console",
]

MIDDLEWARE = [
    # First: every answer names its request (X-Request-ID), as do the lines logged for it.
    "config.request_ids.RequestId",
    "config.middleware.HealthCheck",  # before host validation and the https redirect
    # GET /metrics as the health check is answered, and every other request timed from here.
    "config.metrics.middleware.Metrics",
    "django.middleware.security.SecurityMiddleware",
    # Before anything that answers the API itself (CORS_*, below): a browser's preflight is
    # answered here, before the API's OPTIONS; and every answer from further in, a 401, a 404
    # or a 429 as much as a 200, passes back through it and is given the headers that let a
    # web app's script read it. After SecurityMiddleware: a preflight's answer gets its
    # headers too (nosniff, HSTS).
    "corsheaders.middleware.CorsMiddleware",
    "config.middleware.ContentSecurityPolicy",  # CONTENT_SECURITY_POLICY, below
    "config.middleware.NulInUrlRefused",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.PrivateApiResponses",
    # Inside PrivateApiResponses (its 411 is an API answer like any) and before any view.
    "config.middleware.ApiBodyLengthRequired",
    # Before anything reads a body (the CSRF check reads the form in process_view), after
    # AuthenticationMiddleware (staff's artwork uploads may be larger), inside
    # PrivateApiResponses: a body over its limit is a 413 unread (config.middleware).
    "config.middleware.RequestBodyLimited",
    # Last, per django-axes: turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The bearer token Prometheus scrapes GET /metrics with (README, "Metrics"); empty: metrics off,
# the path a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Benchmarks serve extra baseline views from their own URLconf (bench/floor_urls.py).
ROOT_URLCONF = env.str("ROOT_URLCONF", default="config.urls")
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# SQLite is only the embedded default of a first local run; everything real
# (tests, benchmarks, production) sets DATABASE_URL to PostgreSQL. With debug off a
# missing one refuses the start, as a missing SECRET_KEY does: the default was a file
# inside each container, so migrate filled its own, web served from an empty one (a 500
# on every page while /healthz passed) and what was written went with the container.
if "DATABASE_URL" not in env.ENVIRON and not DEBUG:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Set it in the environment "
        "(postgres://user:password@host:5432/name), or set DEBUG=1 for local development."
    )
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tonight.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Bind parameters on the server: an array of hundreds of ids travels as one
    # binary value instead of being spelled out into the SQL text by the client.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("server_side_binding", True)
    # Prepare a statement on a connection once it has run twice: the request path's
    # few fixed reads (token, profile, history) and the page log's insert are then
    # parsed and planned once per connection, not on every request. Set it to
    # None (PREPARE_THRESHOLD=none) behind a transaction-pooling PgBouncer -- for web
    # processes only: Celery workers hold session-level advisory locks (one retrain per
    # cluster, one artwork policy update at a time), which transaction pooling would
    # take and release on different server connections and so leave held. Workers
    # connect directly or through session pooling (their own DATABASE_URL).
    _prepare = env.str("PREPARE_THRESHOLD", default="2")
    try:
        _prepare_threshold = None if _prepare.lower() == "none" else int(_prepare)
    except ValueError:
        raise invalid("PREPARE_THRESHOLD", _prepare, "a whole number or none", default=2) from None
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", _prepare_threshold)
    # A database host that drops packets (a failover moving its address, a partition) is
    # not one that refuses: a connection attempt waited psycopg's default, 130 s. Warming
    # in gunicorn's master waited that long before it listened, and every health probe and
    # request held its worker until gunicorn killed it, the probe getting no answer. Within
    # compose's probe (4 s): a 503. `?connect_timeout=10` in DATABASE_URL overrides it.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 3)
    # An open connection whose server goes silent the same way waited the kernel's TCP
    # timeout, some 15 minutes, a request or a task hung on its query all along. Idle, it
    # probes the server after 10 s and gives up after 4 probes 5 s apart; waiting on a query
    # it sent, after 30 s unacknowledged (libpq 12 and later). A server busy on a long query
    # still answers both: its kernel does. `?keepalives_idle=60` (or any of them, in ms for
    # tcp_user_timeout) in DATABASE_URL overrides it.
    _silent_server = {
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 4,
    }
    if psycopg.pq.version() >= 120000:
        _silent_server["tcp_user_timeout"] = 30_000
    DATABASES["default"]["OPTIONS"] = _silent_server | DATABASES["default"]["OPTIONS"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time: wait for the lock rather than fail the demo's seeding.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds shared counters (wrong-PIN throttling per profile), so processes
# must share it: Redis when one is configured, else per-process memory (local runs).
_REDIS_URL = env.str("REDIS_URL", default="") or env.str("CELERY_BROKER_URL", default="")
# A Redis that stops answering (packets dropped, not refused) must fail a cache call in
# seconds: without timeouts a PIN unlock hung until gunicorn's own, and a task's delivery
# count spent the task's time limit waiting.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
    if _REDIS_URL.startswith(("redis://", "rediss://"))
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Sign-in lockout (django-axes) ------------------------------------------------
# The admin's login form, which also signs staff in to the console and the staff API, stops
# checking passwords for a username from one client address after LOGIN_FAILURE_LIMIT wrong
# ones, until LOGIN_COOLOFF_MINUTES have passed since the last (README, "Sign-in lockout").
# API tokens never go through it: Django's authenticate() is only called by that form.
AUTHENTICATION_BACKENDS = [
    # First, per axes: it refuses a locked-out attempt before any backend checks a password.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Username and address together: guessing from one address cannot lock the real admin out
# from everywhere else, and spraying one username from one address is stopped.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The login form's field (AuthenticationForm names it so whatever the user model's
# USERNAME_FIELD); axes' default is a lazy object that is not a plain string.
AXES_USERNAME_FORM_FIELD = "username"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
_cooloff_minutes = env.int("LOGIN_COOLOFF_MINUTES", default=15)
if AXES_FAILURE_LIMIT < 1 or _cooloff_minutes < 1:
    # Axes reads a zero cool-off as "attempts expire at once": no lockout, silently.
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be 1 or more.")
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes)
# A right password forgets that username's and address's earlier typos, so a person who
# mistyped a few times does not lock themselves out with their next slip.
AXES_RESET_ON_SUCCESS = True
# The admin's own page saying why and for how long, with a 429, instead of a line of text.
AXES_LOCKOUT_CALLABLE = "accounts.login_lockout.lockout_response"
# Attempts are rows in PostgreSQL (axes' database handler, its default), not cache keys:
# axes_reset_username finds them (cache keys are hashes of username and address together,
# which a reset by username alone cannot rebuild), superusers see and delete them in admin,
# they survive a cache FLUSHDB, and `make demo` without Redis counts them across its
# gunicorn workers too. Only sign-in attempts write them: no load worth a cache.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Not its banner on every start of every process (each manage.py command printed it).
AXES_VERBOSE = False
# The client's address (django-ipware): the connection's, or with TRUST_X_FORWARDED_FOR the
# X-Forwarded-For entry the outermost proxy appended, whatever a client wrote before it. The
# count ipware takes is of the proxies listed in the header, which leaves out the last one (it
# is REMOTE_ADDR). Not strict: a longer header than the proxies make is a client's own (a
# spoof, or its office proxy), not a reason to fall back to the proxy's shared address.
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUST_X_FORWARDED_FOR else ("REMOTE_ADDR",)
)
AXES_IPWARE_PROXY_ORDER = "left-most"
AXES_IPWARE_PROXY_COUNT = TRUST_X_FORWARDED_FOR - 1 if TRUST_X_FORWARDED_FOR else None
IPWARE_STRICT = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# The languages homepage row copy is translated into (locale/<code>/LC_MESSAGES/django.po):
# the demo catalogue's display languages. A profile whose display language is not
# here reads English (recommendations/serving/row_copy.py).
LANGUAGES = [
    ("en", "English"),
    ("hi", "Hindi"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("ml", "Malayalam"),
    ("ko", "Korean"),
    ("ja", "Japanese"),
    ("es", "Spanish"),
    ("pt", "Portuguese"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
# The site's own files, which no one app owns: its icon, the API docs page's stylesheet.
STATICFILES_DIRS = [BASE_DIR / "static"]
# gunicorn serves the admin's and the staff pages' static files through WhiteNoise;
# in development it finds them in the apps without a collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG
# "default" holds the artwork images, public at MEDIA_URL; "artefacts" the model versions'
# and artwork policies' files, which nothing serves (recommendations.serving.artefacts). Both
# are the file system under MEDIA_ROOT unless STORAGE_DEFAULT_* / STORAGE_ARTEFACTS_* say
# otherwise (README, Deploying: shared storage for several hosts).
STORAGES = {
    **storages(env),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# The demo and small deployments serve the artwork images from this process (only
# MEDIA_ROOT/artwork/: the "artefacts" storage is MEDIA_ROOT too unless configured, and
# its files must never be downloadable); a CDN or bucket in front of it takes over in
# production. Off
# unless DEBUG or asked for (docker-compose.yml asks).
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)

# Defence in depth for the HTML this app serves (the front page, admin and its sign-in, the
# staff console, the API docs): script only from this origin's own files, so markup that
# slips into a page (a household's name rendered as HTML) runs nothing. No page has an
# inline script; the docs page loads its start-up script from /api/docs/?script=
# (SpectacularSwaggerSplitView). Styles too come from this origin's stylesheets only:
# injected markup cannot restyle a page (hide a warning, overlay a form, read attributes
# through selectors). No page has a <style> block or a style attribute (the console's bars
# are SVG; drf-spectacular's docs page has its <style> as a stylesheet, templates/
# api_docs.html; admin's own change list writes one only for a ModelAdmin that hides its
# actions, which none here does), but one: Django's CSRF refusal page keeps its <style>,
# allowed by hash on that answer alone (config.views.csrf_failure). What scripts set
# through element.style (admin's, Swagger UI's React) is not inline markup and is allowed.
# Images: this origin, data: URIs (admin's and Swagger UI's icons), and MEDIA_URL's host
# when artwork is served from another one (a CDN). The versioned API's answers carry no
# policy (config.middleware), the browsable API's HTML under DEBUG included.
_media = urlsplit(MEDIA_URL)
# A MEDIA_URL without a scheme ("//cdn.example/media/") names a host, at the page's scheme.
_MEDIA_HOST = (f"{_media.scheme}://" if _media.scheme else "") + _media.netloc
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *([_MEDIA_HOST] if _media.netloc else [])],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LOGIN_URL = "admin:login"
# Django's own page, its <style> allowed by hash on that answer alone (the CSP, above).
CSRF_FAILURE_VIEW = "config.views.csrf_failure"

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    # A household's token only. The staff operations (/api/v1/ops/) read the admin sign-in
    # instead (accounts.authentication.StaffSessionAuthentication), and nothing else does:
    # a session acting as the signed-in person's household went past the console's gate.
    "DEFAULT_AUTHENTICATION_CLASSES": ["profiles.authentication.ProfileTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    # DRF's three (config.api.parsers): each refuses a compressed body (a 415), the JSON
    # one a key given twice.
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONParser",
        "config.api.parsers.FormParser",
        "config.api.parsers.MultiPartParser",
    ],
    # A ?format= no renderer writes is a 400 naming it, not DRF's 404.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.renderers.ContentNegotiation",
    # OPTIONS on /profiles/<id>/... is the 404 GET is for a profile the token cannot reach.
    "DEFAULT_METADATA_CLASS": "config.api.metadata.ProfileScopedMetadata",
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.OrjsonRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    # Each household's requests to an operation whose view names a scope (config.api.throttling):
    # a runaway app or a leaked token must not fill the page log and signals the models learn
    # from. Far above what a household makes (README, Configuration).
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.HouseholdRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        # Wrong PINs per profile: a short window and a daily cap (profiles.unlock).
        "pin_unlock": env("PIN_UNLOCK_RATE", cast=throttle_rate, default="5/min"),
        "pin_unlock_day": env("PIN_UNLOCK_DAILY_RATE", cast=throttle_rate, default="20/day"),
        # Five devices each asking for a page every 15 s for a whole hour.
        "homepage": env("HOMEPAGE_RATE", cast=throttle_rate, default="1200/hour"),
        # Five devices each sending a batch every 2 s for a whole hour.
        "signals": env("SIGNALS_RATE", cast=throttle_rate, default="9000/hour"),
        # Every other read of a household's (profiles, recommendations, continue watching,
        # signal history, title details), one budget: five devices each reading every 3 s.
        "household_reads": env("HOUSEHOLD_READS_RATE", cast=throttle_rate, default="6000/hour"),
    },
}

# --- Browser clients on another origin (CORS, django-cors-headers) ----------------
# The web device class is a browser app served from its own origin (https://watch.example.com
# calling https://api.example.com): the browser lets its script read an answer only when the
# answer names that origin. Only the origins listed, each as a browser sends it (config.
# environment.cors_allowed_origins); none by default: no other site's page reads the API.
CORS_ALLOWED_ORIGINS = cors_allowed_origins(env)
# The household API only. Admin, the console and the staff operations (/api/v1/ops/) read
# the admin's session cookie, which no page of another origin may use; the schema and docs
# are read where they are served.
CORS_URLS_REGEX = r"^/api/v1/(?!ops/)"
# What a client sends: its token, a JSON body, a PIN-protected profile's unlock token, and
# the id it names its request by (config.request_ids). Accept is safelisted in most values;
# listed so that any value passes.
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "x-profile-unlock", "x-request-id")
# What a client's script reads besides the body: the id to quote in a bug report, and when to
# ask again after a 429 or a 503. A browser shows a script no other header but a few.
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after")
# A token in Authorization, never a cookie: a page of another origin sends no credentials,
# so a person's admin sign-in in the same browser never reaches the API through it.
CORS_ALLOW_CREDENTIALS = False
# How long a browser keeps a preflight's answer: Chromium's cap (two hours; Firefox keeps it
# a day at most). A longer one changes nothing in Chromium, and an origin taken off the list
# is refused by the answers themselves at once anyway.
CORS_PREFLIGHT_MAX_AGE = 7200

SPECTACULAR_SETTINGS = {
    "TITLE": "Tonight API",
    "DESCRIPTION": (
        "Personalised homepages for household streaming accounts. Client apps authenticate "
        "with `Authorization: Token <key>`; a token reaches only its own account's profiles, "
        "and the household operations read no other credential. The staff operations "
        "(`/api/v1/ops/`) read an admin sign-in instead: sign in at `/admin/` first. "
        "A web app served from another origin may call the household operations once the "
        "server lists its origin (`CORS_ALLOWED_ORIGINS`); it sends the token in "
        "`Authorization`, never cookies, and may read `X-Request-ID` and `Retry-After`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI from this app's static files (drf-spectacular-sidecar,
    # a pinned release), not from a CDN: script there would run on the admin's origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI's default sends the schema's address to validator.swagger.io and shows the
    # answer as an image from there, on any host but localhost: an image the
    # Content-Security-Policy refuses, and an address nobody else needs.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # Docstrings say why, to developers, and drf-spectacular reads them from a class's bases
    # too: a view's mixin (NoQueryOnWrites) described its operations. What clients read is
    # written for them: @extend_schema(description=...), extend_schema_serializer, help_text.
    "DISABLE_DOCSTRING_DESCRIPTIONS": True,
    # Ids in paths (config.ids.IdConverter, registered as "id"): bigints, not strings.
    # The title and row rankers' modes are one choice set: one enum, under its first name;
    # so are a device class and a maturity level wherever a body names one. A title's kind
    # has a name of its own, as the signals' KindEnum came first.
    "ENUM_NAME_OVERRIDES": {
        "RankerEnum": "recommendations.models.ModelVersion.ServingMode",
        "DeviceEnum": "artwork.models.DeviceClass",
        "MaturityLimitEnum": "catalog.models.MaturityLevel",
        "TitleKindEnum": "catalog.models.Title.Kind",
        "KindEnum": "recommendations.models.SignalKind",
    },
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1},
    },
}

# --- Celery -------------------------------------------------------------------
# Without a broker the first local run executes tasks in-process; tests and
# production point CELERY_BROKER_URL at Redis (or RabbitMQ). With debug off too, on
# purpose: the image's build runs collectstatic so, and a refusal would break it; only
# `check --deploy` warns (tonight.W004; README, Deploying, "No broker").
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat writes each send's time (last_run_at) at once, not every 3 minutes: its healthcheck
# (manage.py beat_health) reads it, and admin shows when a task was really last sent.
CELERY_BEAT_SYNC_EVERY = 1
CELERY_TIMEZONE = "UTC"
# Retrains go to one queue per region (retrain.IN, retrain.US, ...), chosen when a run is
# enqueued (recommendations.services.retraining.retrain_queue), so a region's workers can
# live on their own machines: `celery -A config worker -Q retrain.IN`. Everything else
# (fan-out, reaper) goes to "default". TONIGHT_RETRAIN_QUEUE_PER_REGION=0 sends every
# region's retrains to retrain.default instead (one worker for all regions, as in compose).
CELERY_TASK_ROUTES = {
    "recommendations.retrain_cluster": {"queue": "retrain.default"},  # enqueued per region
    "recommendations.retrain_region": {"queue": "default"},
    "recommendations.reap_training_runs": {"queue": "default"},
    "artwork.update_policy": {"queue": "default"},
    "recommendations.prune_logs": {"queue": "default"},
}
# A killed worker's unacknowledged retrain is redelivered after this long (Redis transport;
# RabbitMQ redelivers when the worker's connection closes, and ignores this). Longer than a
# retrain's hard time limit, so a slow but live run is not delivered twice: the per-cluster
# lock turns the copy away, but the copy's acknowledgement leaves nothing to redeliver should
# the first worker die after all (`manage.py check` warns otherwise, tonight.W006).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 3600)
}

# --- Tonight ------------------------------------------------------------------
_RETRAIN_SOFT_LIMIT = env.int("TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS", default=3600)
TONIGHT = {
    # Largest batch a client may send to the signals endpoint in one request.
    "SIGNAL_BATCH_MAX": env.int("TONIGHT_SIGNAL_BATCH_MAX", default=1000),
    # Clock skew tolerated for client timestamps: how far in the future one may be, and
    # how long before the page it names a play may be stamped and still be credited to
    # it (a client clock behind the server's; recommendations.selectors.attribution).
    "SIGNAL_MAX_FUTURE_SKEW_SECONDS": env.int("TONIGHT_SIGNAL_MAX_FUTURE_SKEW", default=300),
    # Signals older than this are refused: they would arrive after the models
    # that should have learned from them were trained.
    "SIGNAL_MAX_AGE_DAYS": env.int("TONIGHT_SIGNAL_MAX_AGE_DAYS", default=30),
    # Overrides of recommendations.engine.confidence.SignalWeights (what each signal is
    # worth, half-lives); the defaults and their reasons are documented there.
    "SIGNAL_WEIGHTS": env.json("TONIGHT_SIGNAL_WEIGHTS", default={}),
    # Artwork uploads: what a designer's export is allowed to be.
    "ARTWORK_MAX_BYTES": env.int("TONIGHT_ARTWORK_MAX_BYTES", default=5 * 1024 * 1024),
    "ARTWORK_MIN_SIZE": (160, 90),
    "ARTWORK_MAX_SIZE": (4096, 4096),
    "ARTWORK_FORMATS": ("JPEG", "PNG", "WEBP"),
    # Recommendation models (recommendations.services.training, recommendations.serving).
    # Titles in one profile's candidate pool before ranking.
    "CANDIDATE_POOL_SIZE": env.int("TONIGHT_CANDIDATE_POOL_SIZE", default=500),
    # Signals older than this are not read by a retrain (their decayed weight is negligible).
    "TRAINING_WINDOW_DAYS": env.int("TONIGHT_TRAINING_WINDOW_DAYS", default=365),
    # Folder of model artefacts in the "artefacts" storage (MEDIA_ROOT's by default).
    "MODEL_ARTEFACT_ROOT": env.str("TONIGHT_MODEL_ARTEFACT_ROOT", default="models"),
    # How often a serving process asks which model version is active (0: every request).
    "MODEL_VERSION_CHECK_SECONDS": env.float("TONIGHT_MODEL_VERSION_CHECK_SECONDS", default=2.0),
    # How long a serving process trusts its cached availability windows and title facts.
    "CATALOGUE_REFRESH_SECONDS": env.float("TONIGHT_CATALOGUE_REFRESH_SECONDS", default=300.0),
    # Retraining (recommendations.services.retraining). The quality gate: a new cluster
    # version activates unless its holdout NDCG@10 is shown (RETRAIN_GATE_Z) to be more
    # than this fraction below the active version's on the same held-out profiles (a
    # cluster's gate half, the half its recipe was not chosen on; a fallback's every judged
    # profile). A negative margin asks for an improvement of at least that fraction, and a
    # tie (0 against 0 on a small gate half) is none.
    "RETRAIN_GATE_MARGIN": env.float("TONIGHT_RETRAIN_GATE_MARGIN", default=0.02),
    # The gate is a guardrail: it refuses a candidate only when it is shown worse than the
    # margin allows, by this many paired standard errors of the NDCG@10 difference (1.64:
    # one-sided 95%; from n paired profiles, the Student t quantile of that confidence with
    # n - 1 degrees of freedom); a negative margin needs the improvement shown by as
    # many. On a gate half of 30 profiles the standard error is about a quarter of NDCG@10,
    # and comparing the figures alone refused an equally good version about half the
    # time. 0: the figures alone. 0 or more (tonight.E005). docs/recommendations.md,
    # "The gate is a guardrail".
    "RETRAIN_GATE_Z": env.float("TONIGHT_RETRAIN_GATE_Z", default=1.64),
    # A cluster's recipe (its own model, the region's, the global one or the blend) is
    # chosen by the figures of its choice half only when that half judged at least this
    # many profiles; with fewer, the cluster keeps the active version's recipe (its own model
    # for a first version). On the planted worlds choosing on fewer than 7 lowered NDCG@10
    # on average. 0: choose on any figure, as before December 2026. docs/recommendations.md,
    # "Too few profiles to choose on".
    "RETRAIN_RECIPE_MIN_PROFILES": env.int("TONIGHT_RETRAIN_RECIPE_MIN_PROFILES", default=8),
    # The models a cluster's model must beat on the holdout to serve its cluster.
    "RETRAIN_COMPARE_WITH": tuple(
        name
        for name in env.list("TONIGHT_RETRAIN_COMPARE_WITH", default=["region", "global"])
        if name
    ),
    # Prefix of the per-region retrain queues (tests isolate their queues with it).
    "RETRAIN_QUEUE_PREFIX": env.str("TONIGHT_RETRAIN_QUEUE_PREFIX", default="retrain."),
    # Off: every region's retrains go to <prefix>default, for one worker that serves every
    # region (docker-compose.yml), including regions added after it started.
    "RETRAIN_QUEUE_PER_REGION": env.bool("TONIGHT_RETRAIN_QUEUE_PER_REGION", default=True),
    # A running retrain refreshes its heartbeat this often; the reaper fails runs whose
    # heartbeat is older than RETRAIN_STALE_SECONDS (their worker died): at or below one
    # beat it would fail live runs (tonight.E010), below two one lost beat would (tonight.W007).
    "RETRAIN_HEARTBEAT_SECONDS": env.float("TONIGHT_RETRAIN_HEARTBEAT_SECONDS", default=10.0),
    "RETRAIN_STALE_SECONDS": env.float("TONIGHT_RETRAIN_STALE_SECONDS", default=120.0),
    # A retrain task (a region's batch of clusters) is stopped after this long, its runs
    # failed with the reason; its worker process is killed 5 minutes later if it has not
    # stopped by then. A region's retrain takes minutes: this is the backstop. With its hard
    # limit, below a Redis broker's visibility timeout, or a live retrain is delivered to a
    # second worker (tonight.W006). More than 0: to Celery 0 is no soft limit (tonight.E011).
    "RETRAIN_SOFT_LIMIT_SECONDS": _RETRAIN_SOFT_LIMIT,
    # The backstop: the worker child still running a retrain this long after it began is
    # killed. Every retrain has ended by then, so docker-compose.yml's retrain worker waits
    # this long (stop_grace_period) before a stop kills it; tests/test_deployment.py holds it.
    "RETRAIN_HARD_LIMIT_SECONDS": _RETRAIN_SOFT_LIMIT + 5 * 60,
    # A run still queued this long after it was requested never reached a worker (a lost
    # message, or no worker on its region's queue): the reaper fails it, since while it is
    # queued every retrain of its cluster is refused. Above a region's worst queue wait.
    "RETRAIN_QUEUED_SECONDS": env.float("TONIGHT_RETRAIN_QUEUED_SECONDS", default=6 * 3600.0),
    # Search small scopes' ALS settings (and blend weights) on a validation split when a
    # search is due; in between, reuse what the last search chose. Off: size priors only.
    "RETRAIN_TUNE": env.bool("TONIGHT_RETRAIN_TUNE", default=True),
    # A scope's search is due when its last one is this old, or when its interactions moved
    # by more than this fraction since (the choice barely moves from one day to the next).
    "RETRAIN_TUNE_EVERY_DAYS": env.float("TONIGHT_RETRAIN_TUNE_EVERY_DAYS", default=7.0),
    "RETRAIN_TUNE_GROWTH": env.float("TONIGHT_RETRAIN_TUNE_GROWTH", default=0.25),
    # Days between fits of the global comparator in a region's retrains (it reads every
    # region's signals and is the costliest fit); always fitted while it serves a cluster.
    "RETRAIN_GLOBAL_EVERY_DAYS": env.float("TONIGHT_RETRAIN_GLOBAL_EVERY_DAYS", default=7.0),
    # Where a worker keeps the signals its last retrain read, so the next reads only what
    # arrived since (one file per database; empty: always read the whole table).
    "RETRAIN_SIGNAL_CACHE_DIR": env.str(
        "TONIGHT_RETRAIN_SIGNAL_CACHE_DIR", default=str(VAR_DIR / "cache")
    ),
    # Profiles that engaged with fewer titles are served by the region model, not their
    # cluster's.
    "CLUSTER_MIN_HISTORY_TITLES": env.int("TONIGHT_CLUSTER_MIN_HISTORY_TITLES", default=3),
    # How long a serving process trusts its per-title names and default artwork (staff
    # deactivate artwork without a retrain).
    "TITLE_TABLES_REFRESH_SECONDS": env.float("TONIGHT_TITLE_TABLES_REFRESH_SECONDS", default=60.0),
    # A play this long after a page that showed the title is attributed to that page.
    # Its one default: attribution_window() indexes it, none falls back.
    "ATTRIBUTION_WINDOW_SECONDS": env.int("TONIGHT_ATTRIBUTION_WINDOW_SECONDS", default=3 * 3600),
    # The title and row rankers learn from up to RANKER_MAX_PAGES logged pages, sampled
    # uniformly over the last RANKER_LOG_DAYS (recommendations.services.ranker_training):
    # each page costs about a request's work to rebuild. The page log keep check counts
    # the days (tonight.E001); `manage.py check` refuses no days (tonight.E003) or no pages
    # (tonight.E004). Their one default: readers index them, none falls back.
    "RANKER_LOG_DAYS": env.float("TONIGHT_RANKER_LOG_DAYS", default=28.0),
    "RANKER_MAX_PAGES": env.int("TONIGHT_RANKER_MAX_PAGES", default=3000),
    # Lifetime of a PIN-protected profile's unlock token.
    "PROFILE_UNLOCK_SECONDS": env.int("TONIGHT_PROFILE_UNLOCK_SECONDS", default=3600),
    # Artwork bandit (artwork.selection, artwork.training; docs/artwork.md). Share of
    # choices made uniformly at random, whatever the policy believes: it keeps every
    # variant's propensity away from zero, so logs stay usable to evaluate new policies.
    "ARTWORK_EXPLORATION_FLOOR": env.float("TONIGHT_ARTWORK_EXPLORATION_FLOOR", default=0.1),
    # Posterior draws per choice; a variant's propensity is the floor's share plus the
    # share of draws it wins, so this is also the propensities' granularity. 16 costs
    # about half of 32's choice (a tenth of a page's CPU) with the same simulated take
    # rates over three seeds (bench/artwork.py --draws --seed; docs/artwork.md). A stored
    # policy keeps its own until the nightly refit.
    "ARTWORK_POSTERIOR_DRAWS": env.int("TONIGHT_ARTWORK_POSTERIOR_DRAWS", default=16),
    # Prior strength, in pseudo-impressions, of the shared theme x context weights and of
    # each variant's own term. Take rates are a few percent: a weak prior (1) lets a
    # context bucket nobody has seen yet swing draws by +-0.5 and the policy stays a coin
    # flip; these keep unseen directions within about +-0.1 until data arrives.
    "ARTWORK_PRIOR_PRECISION": env.float("TONIGHT_ARTWORK_PRIOR_PRECISION", default=25.0),
    "ARTWORK_VARIANT_PRIOR_PRECISION": env.float(
        "TONIGHT_ARTWORK_VARIANT_PRIOR_PRECISION", default=50.0
    ),
    # How often a serving process looks for a newer policy or changed variants.
    "ARTWORK_CHECK_SECONDS": env.float("TONIGHT_ARTWORK_CHECK_SECONDS", default=1.0),
    # Days of page log a full refit reads (evaluate_artwork_policy's holdout candidate and
    # the page log keep check too). Its one default: readers index it, none falls back.
    "ARTWORK_TRAINING_DAYS": env.int("TONIGHT_ARTWORK_TRAINING_DAYS", default=60),
    # How long after a page's session window (and the clock skew) the artwork policy's
    # updates wait for plays uploaded late (a phone batching its signals or offline for a
    # while) before folding the page for good; later ones wait for the nightly refit
    # (artwork.selectors.artwork_folded_before; docs/artwork.md). Clients document no
    # upload interval: an hour is a guess to measure against (received_at - occurred_at).
    "ARTWORK_UPLOAD_GRACE_SECONDS": env.int("TONIGHT_ARTWORK_UPLOAD_GRACE_SECONDS", default=3600),
    # Policy versions kept in storage (the newest is never pruned).
    "ARTWORK_POLICIES_KEPT": env.int("TONIGHT_ARTWORK_POLICIES_KEPT", default=48),
    # Housekeeping (recommendations.services.retention, nightly from beat). Days of page
    # log kept: every homepage adds a row and only this prune removes any. The longest
    # reader at the defaults is evaluate_artwork_policy's holdout candidate (60 days of
    # ARTWORK_TRAINING_DAYS before its 7-day window, plus the 3-hour attribution
    # window twice: 68 days); `manage.py check` refuses a setting shorter than any reader's
    # (tonight.E001), and 90 leaves room to lengthen a reader without touching this.
    "PAGE_LOG_KEEP_DAYS": env.int("TONIGHT_PAGE_LOG_KEEP_DAYS", default=90),
    # Pages deleted per statement: each its own short transaction, so the prune never
    # holds many row locks or a long transaction, whatever the backlog.
    "PAGE_LOG_PRUNE_BATCH": env.int("TONIGHT_PAGE_LOG_PRUNE_BATCH", default=5000),
    # Days an admin's successful sign-ins (django-axes' access log) are kept: long enough
    # to look back on who signed in during an incident reported weeks later.
    "SIGN_IN_LOG_KEEP_DAYS": env.int("TONIGHT_SIGN_IN_LOG_KEEP_DAYS", default=90),
    # Days of the artwork variants' daily figures kept (a row per variant, device class and
    # day; the admin's impressions and take rates sum what is kept, the variant page's
    # share reads 7 days, the console 2). As long as the page log by default: a figure
    # is then never older than the pages it could be rebuilt from. The full refit
    # rebuilds ARTWORK_TRAINING_DAYS of them (61 days at the defaults), so
    # `manage.py check` refuses a shorter keep (tonight.E007).
    "ARTWORK_DAILY_KEEP_DAYS": env.int("TONIGHT_ARTWORK_DAILY_KEEP_DAYS", default=90),
    # Model versions (and their artefact files) kept by the nightly prune, besides the active
    # version of each scope, whatever is training or awaiting its gate, and every version that
    # served pages the rankers still learn from (RANKER_LOG_DAYS and the attribution window:
    # a pruned version's pages are left out of their training). Retired versions: this many
    # per scope, the most recently activated, for a rollback by hand (the console's models
    # page lists a scope's 5 newest). Rejected and failed ones, never served, for their
    # figures and reasons (the console charts a scope's 30 newest; a nightly retrain makes
    # one a night). 0 or more (tonight.E008).
    "MODEL_VERSIONS_KEPT": env.int("TONIGHT_MODEL_VERSIONS_KEPT", default=5),
    "MODEL_VERSION_KEEP_DAYS": env.int("TONIGHT_MODEL_VERSION_KEEP_DAYS", default=30),
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)

# As logging names the levels, in either case (LOG_LEVEL=debug); gunicorn's own lines and
# Celery's workers and beat read it the same way (config.environment.log_level).
LOG_LEVEL = log_level(env)
# A database outage makes every API call a 503 with the same cause: its traceback whole at
# most once in this many seconds per process, the other calls a line each (config/api/
# exceptions.py). 0: every one whole.
DATABASE_UNAVAILABLE_TRACEBACK_SECONDS = env.int(
    "DATABASE_UNAVAILABLE_TRACEBACK_SECONDS", default=60
)

# Time, level, logger and process on every line: an on-call search for ERROR, or for
# recommendations.services.retraining, finds a failed retrain among gunicorn's and
# Celery's own lines, and the process tells two gunicorn workers apart.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
# A worker or beat replaces root's handlers with Celery's own (worker_hijack_root_logger),
# whose format had no logger: "[...: ERROR/MainProcess] Retrain run 7 failed".
CELERY_WORKER_LOG_FORMAT = LOG_FORMAT
# Error reports hide the profile unlock header and PINs too (config/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.ReportFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # LOG_FORMAT, and " request_id=<id>" while a request is answered (config/request_ids.py).
        "plain": {"()": "config.request_ids.RequestContextFormatter", "format": LOG_FORMAT},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {"refusals_untraced": {"()": "config.request_ids.RefusalsUntraced"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own default gives "django" handlers of its own (one to the console when
        # DEBUG) on top of root's: every 4xx and 5xx was written twice. Root's alone now.
        "django": {"handlers": [], "level": "INFO"},
        # A 403's line without the PermissionDenied's traceback (config/request_ids.py).
        "django.request": {"handlers": [], "filters": ["refusals_untraced"]},
        # Configuring "django" resets its children: runserver's lines as Django writes them.
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
if CELERY_TASK_ALWAYS_EAGER:
    # Without a broker a task runs inside the command or request that sent it, which reports
    # the outcome itself; Celery's "Task ... succeeded in 3.6s" line, written for a worker's
    # log, is noise there. A failing task is still logged (ERROR) and raised.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
