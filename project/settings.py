"""jobdesk settings: everything comes from the environment (django-environ).

Every variable read here is documented in README.md. A variable with a bad value stops start-up with
an ``ImproperlyConfigured`` naming it, so a typo in a deployment fails loudly instead of running with a
default nobody chose.
"""

import math
import os
import re
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# Where `make run` keeps its SQLite database, private Redis and admin password.
VAR_DIR = Path(env.str("JOBDESK_VAR_DIR", default=str(BASE_DIR / "var")))


def _read(name, cast, default):
    try:
        return cast(name, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}: invalid value {os.environ.get(name)!r} ({exc})") from exc


def _number(name, default):
    """A float setting, finite. Python's ``float`` reads it first so that ``nan`` and ``inf`` are refused
    naming the value given (django-environ strips their letters and reports "could not convert string to
    float: ''"); what only django-environ reads (``1,5``) is still read as before."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        try:
            value = env.float(name)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name}: must be a finite number, got {raw!r}")
    return value


def _scheme(url):
    """The part of ``url`` before "://" (empty without one): what an error about a URL shows of it, never the
    rest, which may hold a password."""
    return url.partition("://")[0] if "://" in url else ""


def _strict_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}: must be true or false, got {value!r}")


def _positive_int(name, default):
    value = _read(name, env.int, default)
    if value < 1:
        raise ImproperlyConfigured(f"{name}: must be a positive integer, got {value}")
    return value


DEBUG = _strict_bool("DEBUG", False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY: required when DEBUG is off")
    SECRET_KEY = "django-insecure-jobdesk-development-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",  # request.htmx, and htmx.min.js as a static file for the admin's live pages
    "ninja",  # /api/docs serves Swagger UI from these static files, not a CDN (NOTES.md 8a)
    "project",
    "jobs",
    "audit",
    "exports",
    "branding",
    "notifications",
    "django_rq",  # after jobs: jobs' rqworker command (no system checks at each start) is the one run
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "project.middleware.CorrelationIdMiddleware",
    "project.middleware.ApiJsonErrorsMiddleware",
    "project.middleware.ApiRequestBodyMiddleware",  # before anything reads a request body
    "project.middleware.UnusableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

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

# --- Database: PostgreSQL in production and tests, SQLite for `make run` -----------------------------
_DATABASE_URL_FORM = "postgres://user:password@host:5432/name or sqlite:///path/to/file.sqlite3"
try:
    with warnings.catch_warnings():  # django-environ's "Engine not recognized" warning prints the password
        warnings.simplefilter("ignore")
        DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'jobdesk.sqlite3'}")}
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL: invalid value ({exc}); expected {_DATABASE_URL_FORM}") from exc
# An unknown scheme ("garbage", "postgress://") leaves no engine, or the bare scheme as one: named here,
# not as a KeyError 'ENGINE' or a backend import error later. The URL is not echoed (it holds a password).
if "." not in DATABASES["default"].get("ENGINE", ""):
    raise ImproperlyConfigured(f"DATABASE_URL: not a database URL (scheme {_scheme(env.str('DATABASE_URL'))!r}); "
                               f"expected {_DATABASE_URL_FORM}")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server, worker and scheduler write at once: WAL and immediate transactions avoid "locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", _read("DATABASE_CONN_MAX_AGE", env.int, 60))
    # The ledger's per-job statements (project.db.prepared_cursor) are prepared after two runs on a
    # connection; off behind a pooler that cannot keep prepared statements (PgBouncer before 1.21 in
    # transaction mode). The ORM's own queries are never prepared either way.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold", 2 if _strict_bool("DATABASE_PREPARED_STATEMENTS", True) else None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Queues -----------------------------------------------------------------------------------------
def _redis_url():
    """QUEUE_REDIS_URL, else REDIS_URL, checked: an error names the variable it came from.

    redis-py reads some typos without a word: ``redis://host:6379/notadb`` is database 0, and a port that is
    not a number fails only at the first connection. Both stop start-up here. ``unix://`` URLs take their
    database as ``?db=`` (``make run`` uses ``unix://…/redis.sock?db=0``)."""
    from urllib.parse import unquote, urlparse

    from redis.connection import parse_url

    name = "QUEUE_REDIS_URL" if env.str("QUEUE_REDIS_URL", default="") else "REDIS_URL"
    url = env.str(name, default="")
    if not url:
        raise ImproperlyConfigured(
            "QUEUE_REDIS_URL: not set (nor REDIS_URL). `make run` starts a private Redis and sets it for you."
        )
    if not re.match(r"^(redis|rediss|unix)://", url):
        raise ImproperlyConfigured(f"{name}: must start with redis://, rediss:// or unix://, got scheme {_scheme(url)!r}")
    try:
        parse_url(url)  # the port, and query arguments such as ?db= and ?socket_timeout=
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    parts = urlparse(url)
    if parts.scheme != "unix" and not re.fullmatch(r"/?|/[0-9]+/?", unquote(parts.path)):
        raise ImproperlyConfigured(
            f"{name}: the database must be a whole number (redis://host:6379/0), got {unquote(parts.path).strip('/')!r}")
    return url


QUEUE_REDIS_URL = _redis_url()

QUEUE_NAMESPACE = env.str("QUEUE_NAMESPACE", default="jobdesk")
if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", QUEUE_NAMESPACE):
    raise ImproperlyConfigured(
        f"QUEUE_NAMESPACE: must be 1-32 lowercase letters, digits, '-' or '_', starting with a letter; got {QUEUE_NAMESPACE!r}"
    )
QUEUE_MAX_ATTEMPTS = _positive_int("QUEUE_MAX_ATTEMPTS", 5)
QUEUE_DLQ_WEBHOOK = env.str("QUEUE_DLQ_WEBHOOK", default="")
if QUEUE_DLQ_WEBHOOK and not QUEUE_DLQ_WEBHOOK.startswith("https://") and not DEBUG:
    raise ImproperlyConfigured("QUEUE_DLQ_WEBHOOK: must be an https:// URL")

# Queue domains: each has three RQ queues, "<ns>.<domain>.high", "<ns>.<domain>", "<ns>.<domain>.low".
QUEUE_DOMAINS = ("default", "exports", "branding", "audit", "notifications")
QUEUE_PRIORITIES = ("high", "default", "low")
QUEUE_CONCURRENCY = {
    domain: _positive_int(f"QUEUE_CONCURRENCY_{domain.upper()}", 1) for domain in QUEUE_DOMAINS
}
QUEUE_RESULT_TTL = _read("QUEUE_RESULT_TTL", env.int, 0)
QUEUE_FAILURE_TTL = _read("QUEUE_FAILURE_TTL", env.int, 24 * 3600)
# Worker liveness, seconds: how often a running job's heartbeat is refreshed and how long past it a job
# counts as abandoned. The reconciler finds a dead worker's job within about their sum.
QUEUE_JOB_HEARTBEAT = _positive_int("QUEUE_JOB_HEARTBEAT", 5)
QUEUE_HEARTBEAT_GRACE = _positive_int("QUEUE_HEARTBEAT_GRACE", 10)
JOBS_RELAY_GRACE = _number("JOBS_RELAY_GRACE", 5.0)
JOBS_SYSTEM_INTERVAL = _positive_int("JOBS_SYSTEM_INTERVAL", 5)
# The persistent worker's work process (jobs.persistent_worker) is replaced after this many jobs, or once
# it holds more than this much memory.
QUEUE_WORKER_MAX_JOBS = _positive_int("QUEUE_WORKER_MAX_JOBS", 1000)
# A succeeded job's end written by the next job's claim, one commit for both (jobs.finish_group).
QUEUE_FINISH_GROUP = _strict_bool("QUEUE_FINISH_GROUP", True)
QUEUE_WORKER_MAX_MEMORY_MB = _positive_int("QUEUE_WORKER_MAX_MEMORY_MB", 512)
# Seconds past a job's timeout before the worker kills a work process that did not stop the job itself.
QUEUE_TIMEOUT_GRACE = _positive_int("QUEUE_TIMEOUT_GRACE", 5)
# Seconds between the admin's live pages' refreshes (job list, job page, queues, workers).
ADMIN_REFRESH_SECONDS = _positive_int("ADMIN_REFRESH_SECONDS", 5)
# Seconds `manage.py jobs_workers` lets running jobs finish on SIGTERM before it kills them.
QUEUE_SHUTDOWN_GRACE = _positive_int("QUEUE_SHUTDOWN_GRACE", 30)
# Extra modules declaring job types, beyond each app's tasks.py (comma-separated dotted paths).
JOBS_TASK_MODULES = env.list("JOBS_TASK_MODULES", default=[])
# Retention (jobs.retention, run hourly by the "Job retention" schedule): days a succeeded, or a dead or
# canceled, record is kept; the newest JOBS_KEEP_FAILED dead (and canceled) records per type stay whatever their age.
JOBS_KEEP_SUCCEEDED_DAYS = _positive_int("JOBS_KEEP_SUCCEEDED_DAYS", 7)
JOBS_KEEP_DEAD_DAYS = _positive_int("JOBS_KEEP_DEAD_DAYS", 30)
JOBS_KEEP_FAILED = _read("JOBS_KEEP_FAILED", env.int, 500)
if JOBS_KEEP_FAILED < 0:
    raise ImproperlyConfigured(f"JOBS_KEEP_FAILED: must be 0 or more, got {JOBS_KEEP_FAILED}")
# The queues page's charts (jobs.rollups): seconds between aggregation passes (run by the scheduler's
# tick), seconds an attempt's end is left to commit before it is counted, and days the rollup is kept.
JOBS_ROLLUP_INTERVAL = _positive_int("JOBS_ROLLUP_INTERVAL", 60)
JOBS_ROLLUP_LAG = _number("JOBS_ROLLUP_LAG", 10.0)
if JOBS_ROLLUP_LAG < 0:
    raise ImproperlyConfigured(f"JOBS_ROLLUP_LAG: must be 0 or more, got {JOBS_ROLLUP_LAG}")
JOBS_ROLLUP_KEEP_DAYS = _positive_int("JOBS_ROLLUP_KEEP_DAYS", 8)


def _queue_name(domain, priority="default"):
    name = f"{QUEUE_NAMESPACE}.{domain}"
    return name if priority == "default" else f"{name}.{priority}"


RQ_QUEUES = {
    _queue_name(domain, priority): {
        "URL": QUEUE_REDIS_URL,
        "DEFAULT_TIMEOUT": 600,
        "SERIALIZER": "rq.serializers.JSONSerializer",
    }
    for domain in QUEUE_DOMAINS
    for priority in QUEUE_PRIORITIES
}
RQ = {
    "WORKER_CLASS": "jobs.worker.PersistentWorker",  # jobs in a reused work process, not a fork per job
    "JOB_CLASS": "jobs.worker.Job",
    "SCHEDULER_CLASS": "jobs.worker.Scheduler",
    "COMMIT_MODE": "on_db_commit",
}
# django-rq would also mount its whole dashboard inside the admin (/admin/django_rq/dashboard/) for any staff
# member, beside the copy under jobdesk's roles (jobs.rq_dashboard at /admin/django-rq/): not registered.
RQ_SHOW_ADMIN_LINK = False

# --- Exports ----------------------------------------------------------------------------------------
def _encryption_keys():
    """EXPORTS_ENCRYPTION_KEYS: ``id:base64key,...``, 32-byte keys, the first one encrypts."""
    import base64
    import hashlib

    raw = env.str("EXPORTS_ENCRYPTION_KEYS", default="")
    if not raw:
        if not DEBUG:
            raise ImproperlyConfigured("EXPORTS_ENCRYPTION_KEYS: required when DEBUG is off (id:base64-32-byte-key)")
        return {"dev": hashlib.sha256(("exports:" + SECRET_KEY).encode()).digest()}
    keys = {}
    for item in raw.split(","):
        key_id, _, encoded = item.strip().partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", key_id) or len(key) != 32 or key_id in keys:
            raise ImproperlyConfigured(
                f"EXPORTS_ENCRYPTION_KEYS: {key_id or item!r} must be a unique id (1-32 of A-Za-z0-9_.-), a colon "
                "and a base64-encoded 32-byte key"
            )
        keys[key_id] = key
    return keys


EXPORTS_ENCRYPTION_KEYS = _encryption_keys()
EXPORTS_LINK_TTL = _positive_int("EXPORTS_LINK_TTL", 3600)
EXPORTS_RETENTION_DAYS = _positive_int("EXPORTS_RETENTION_DAYS", 7)
EXPORTS_MAX_CONCURRENT_PER_GUILD = _positive_int("EXPORTS_MAX_CONCURRENT_PER_GUILD", 2)
EXPORTS_PROGRESS_ROWS = _positive_int("EXPORTS_PROGRESS_ROWS", 5000)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# --- Outbound requests (notifications.outbound: webhooks, shards, the dead-letter webhook) ---------------
def _networks(name):
    import ipaddress

    values = env.list(name, default=[])
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {value!r} is not a network (like 127.0.0.1/32): {exc}") from None
    return values


# Networks that user-given URLs may reach although they are internal: tests and `make run`'s demo peers only.
OUTBOUND_ALLOWED_NETWORKS = _networks("OUTBOUND_ALLOWED_NETWORKS")
OUTBOUND_TIMEOUT = _number("OUTBOUND_TIMEOUT", 10.0)
if not 0 < OUTBOUND_TIMEOUT <= 300:
    raise ImproperlyConfigured(f"OUTBOUND_TIMEOUT: must be between 0 and 300 seconds, got {OUTBOUND_TIMEOUT}")

# --- Branding -----------------------------------------------------------------------------------------
# Seconds a shard has to answer one apply request (connect and each read); then the attempt failed.
BRANDING_SHARD_TIMEOUT = _number("BRANDING_SHARD_TIMEOUT", 10.0)
if not 0 < BRANDING_SHARD_TIMEOUT <= 120:
    raise ImproperlyConfigured(f"BRANDING_SHARD_TIMEOUT: must be more than 0 and at most 120 seconds, got {BRANDING_SHARD_TIMEOUT}")
# Attempts per shard and fan-out, and the first retry's delay in seconds (doubled each time, capped at 10 minutes).
BRANDING_MAX_ATTEMPTS = _positive_int("BRANDING_MAX_ATTEMPTS", 5)
if BRANDING_MAX_ATTEMPTS > 50:
    raise ImproperlyConfigured(f"BRANDING_MAX_ATTEMPTS: must be at most 50, got {BRANDING_MAX_ATTEMPTS}")
BRANDING_RETRY_DELAY = _number("BRANDING_RETRY_DELAY", 5.0)
if not 0 < BRANDING_RETRY_DELAY <= 3600:
    raise ImproperlyConfigured(f"BRANDING_RETRY_DELAY: must be more than 0 and at most 3600 seconds, got {BRANDING_RETRY_DELAY}")

# --- Notifications ------------------------------------------------------------------------------------
# E-mail through Django's backend: EMAIL_URL (django-environ's email_url: smtp://user:pass@host:587,
# smtp+tls://..., consolemail://); unset: the console backend in DEBUG (make run), else SMTP on localhost:25.
_email_url = env.str("EMAIL_URL", default="")
if _email_url:
    try:
        globals().update(env.email_url_config(_email_url))
    except (ValueError, KeyError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"EMAIL_URL: invalid value ({exc})") from None
else:
    EMAIL_BACKEND = ("django.core.mail.backends.console.EmailBackend" if DEBUG
                     else "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="jobdesk <jobdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute links in e-mails and webhook payloads (the panel, the admin's dead letters).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
if not re.match(r"^https?://[^/\s]+", SITE_URL):
    raise ImproperlyConfigured(f"SITE_URL: must be an http:// or https:// URL, got {SITE_URL!r}")
# Dead-letter alerts: one digest per job type per window, to QUEUE_DLQ_WEBHOOK (signed with
# QUEUE_DLQ_WEBHOOK_SECRET) and/or the QUEUE_DLQ_EMAILS list.
QUEUE_DLQ_WEBHOOK_SECRET = env.str("QUEUE_DLQ_WEBHOOK_SECRET", default="")
if QUEUE_DLQ_WEBHOOK and len(QUEUE_DLQ_WEBHOOK_SECRET) < 16:
    raise ImproperlyConfigured("QUEUE_DLQ_WEBHOOK_SECRET: required (16 characters or more) when QUEUE_DLQ_WEBHOOK is set")
QUEUE_DLQ_EMAILS = env.list("QUEUE_DLQ_EMAILS", default=[])
for _address in QUEUE_DLQ_EMAILS:
    if not re.fullmatch(r"[^@\s,]+@[^@\s,]+", _address):
        raise ImproperlyConfigured(f"QUEUE_DLQ_EMAILS: {_address!r} is not an e-mail address")
NOTIFICATIONS_DLQ_DIGEST_SECONDS = _positive_int("NOTIFICATIONS_DLQ_DIGEST_SECONDS", 300)
# Webhook deliveries: the first retry waits this many seconds, then twice as long each time (5 attempts).
NOTIFICATIONS_WEBHOOK_BACKOFF = _positive_int("NOTIFICATIONS_WEBHOOK_BACKOFF", 30)
# E-mail jobs: seconds between attempts (fixed).
NOTIFICATIONS_EMAIL_BACKOFF = _positive_int("NOTIFICATIONS_EMAIL_BACKOFF", 60)
# Days webhook deliveries (with their attempts) and dead-letter digests are kept.
NOTIFICATIONS_KEEP_DAYS = _positive_int("NOTIFICATIONS_KEEP_DAYS", 30)

# Web Push (notifications.push): VAPID keys as base64url, the public one the browser's 65-byte
# applicationServerKey, the private one its 32-byte secret (`vapid --gen`, web-push's generate-vapid-keys);
# both or neither (push is off without them). VAPID_SUBJECT: a mailto: or https: contact for push services.
VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="").strip()
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="").strip()
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="mailto:jobdesk@localhost")
if bool(VAPID_PUBLIC_KEY) != bool(VAPID_PRIVATE_KEY):
    raise ImproperlyConfigured("VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY: set both or neither")
if VAPID_PUBLIC_KEY:
    from notifications.vapid_keys import check_key_pair

    _problem = check_key_pair(VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY)
    if _problem:
        raise ImproperlyConfigured(_problem)
if not re.fullmatch(r"(mailto:[^@\s]+@[^@\s]+|https://[^/\s]+.*)", VAPID_SUBJECT):
    raise ImproperlyConfigured(f"VAPID_SUBJECT: must be a mailto: or https:// URL, got {VAPID_SUBJECT!r}")
# Push batches started per window by all workers together (jobs.ratelimit syntax: "100/s", "600/m").
NOTIFICATIONS_PUSH_RATE = env.str("NOTIFICATIONS_PUSH_RATE", default="100/s")
if not re.fullmatch(r"\s*\d+\s*/\s*(\d+(\.\d+)?)?\s*[a-z]+\s*", NOTIFICATIONS_PUSH_RATE.lower()):
    raise ImproperlyConfigured(f"NOTIFICATIONS_PUSH_RATE: like '100/s' or '600/m', got {NOTIFICATIONS_PUSH_RATE!r}")
# Seconds a push service keeps a message for a browser that is offline (the TTL header), and the first
# retry's delay of a push batch a push service answered 429 or 5xx (doubled each time, 5 attempts).
NOTIFICATIONS_PUSH_TTL = _positive_int("NOTIFICATIONS_PUSH_TTL", 86400)
NOTIFICATIONS_PUSH_BACKOFF = _positive_int("NOTIFICATIONS_PUSH_BACKOFF", 30)

# --- Audit --------------------------------------------------------------------------------------------
def _audit_int(name, default, low, high):
    value = _read(name, env.int, default)
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name}: must be an integer from {low} to {high}, got {value}")
    return value


# Events older than this many days are removed by the nightly retention job (audit.apply_retention).
AUDIT_RETENTION_DAYS = _audit_int("AUDIT_RETENTION_DAYS", 90, 1, 3650)
# Events deleted per transaction by retention: short transactions, no long lock on the log.
AUDIT_RETENTION_BATCH = _audit_int("AUDIT_RETENTION_BATCH", 5000, 100, 100_000)
# Days (ending yesterday, UTC) the nightly rollup recomputes: late events of the day before are counted.
AUDIT_ROLLUP_DAYS = _audit_int("AUDIT_ROLLUP_DAYS", 2, 1, 31)

# --- Security -----------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_SSL_REDIRECT = _strict_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = _read("SECURE_HSTS_SECONDS", env.int, 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging and Sentry -------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"LOG_LEVEL: must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT: must be json or text, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "project.correlation.CorrelationIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [cid=%(correlation_id)s] %(message)s"},
        "json": {"()": "project.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["correlation"]},
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "rq.worker": {"level": "WARNING"},
        # RQ's own retry lines count its transport retries ("999999 remaining"); the runner logs each retry
        # with the ledger's attempt numbers.
        "rq.job": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
        # rq-scheduler gives this logger a handler of its own unless it has one: each line was printed twice.
        "rq_scheduler.scheduler": {"handlers": ["null"]},
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from project.sentry import init_sentry

    init_sentry(SENTRY_DSN, debug=DEBUG)  # a DSN Sentry cannot read is an ImproperlyConfigured naming SENTRY_DSN

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "panel:guilds"
