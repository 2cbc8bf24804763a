"""Settings for smcbridge, read from the environment (see README "Configuration")."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from smcbridge import demo_values as demo
from smcbridge.env import (
    LOG_LEVELS,
    distinct_field_ids,
    env_bool,
    env_code,
    env_emails,
    env_float,
    env_host_names,
    env_int,
    env_list,
    env_loglevel,
    env_mapping,
    env_networks,
    env_redis_url,
    env_str,
    env_timezone,
    env_url,
    positive_int,
)
from smcbridge.outgoing_http import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BUDGET_SECONDS,
    DEFAULT_TIMEOUT_CONNECT,
    DEFAULT_TIMEOUT_READ,
)
from smcbridge.zones import zone_named

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SMCBRIDGE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105 - DEBUG only
# Django's forms: a name, ".example.com" for its subdomains too, "*"; a port is never matched.
ALLOWED_HOSTS = env_host_names(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"], example="bridge.example.com"
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "smcbridge.admin_site.BridgeAdminConfig",  # django.contrib.admin with its site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "axes",
    "template_partials",
    "syncs",
    "khoros",
    "sapmc",
    "campaigns",
]

MIDDLEWARE = [
    # First: the health probes answer whatever the Host (a load balancer asks by address), so
    # before anything that checks it against ALLOWED_HOSTS (CommonMiddleware, on every request).
    "smcbridge.middleware.HealthProbeMiddleware",
    # Every answer marked as the bridge's, the probes' too: not one of a proxy in the way.
    "smcbridge.middleware.AnswerMarkMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "campaigns.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "campaigns.middleware.PrivateAnswersMiddleware",
    "campaigns.middleware.RefuseNulMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After htmx's and the messages' middleware: it reads request.htmx and leaves a message.
    "campaigns.middleware.SignedOutHtmxMiddleware",
    "campaigns.middleware.ProductMethodNotAllowedMiddleware",
    "campaigns.middleware.ViewerTimezoneMiddleware",
    "campaigns.middleware.ProductNotFoundMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smcbridge.urls"
WSGI_APPLICATION = "smcbridge.wsgi.application"

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
                "campaigns.context_processors.roles",
            ],
            # Dates as <time> in every template, without a {% load %}.
            "builtins": ["smcbridge.template_dates"],
        },
    },
]

# Database: a SQLite file by default. SQLite needs WAL, a busy timeout and IMMEDIATE
# transactions, or the django-q2 ORM broker and the web server lock each other out.
# Empty means unset, as for REDIS_URL (`DATABASE_URL= make test` runs on the default).
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'smcbridge.sqlite3'}"
# Persistent connections on both engines: opening one per request (and, on SQLite, running
# its PRAGMAs again) was a known cost of every API call (issue 13). SQLite in WAL mode keeps
# no lock between statements in autocommit, so a kept connection blocks no writer; the health
# check replaces a connection the server dropped. 0 opens one per request again.
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
# The engines the bridge is written and tested for (smcbridge.db, syncs.upsert, the vendor
# checks). dj-database-url knows more (mysql://, oracle://, postgis://): those started, and the
# first use failed with a traceback about a driver that is not installed.
_DATABASE_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
try:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"] not in _DATABASE_ENGINES:
        raise ValueError("an engine the bridge does not support")
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A "/" or "?" in a password not percent-encoded ends the URL's host part early: the
        # rest became the database name (or the user the host), and the driver's error then
        # quoted a piece of the password as a host it could not resolve.
        _database_name = str(DATABASES["default"]["NAME"] or "")
        if not _database_name or "/" in _database_name or "@" in _database_name:
            raise ValueError("a user, password or database name not percent-encoded")
except ValueError:  # an unknown scheme, a port that is no number; the URL may hold a password
    raise ImproperlyConfigured(
        "DATABASE_URL must be a postgres://user:password@host:port/name or "
        "sqlite:////absolute/path URL, with special characters of the user and password "
        "(@ : / ? # % and spaces) percent-encoded (the value is not repeated: it holds a password)"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not the in-memory default, so that tests with threads share one database; one per
    # process, so that two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
# PostgreSQL: the few statements every SAP MC call sends (smcbridge.db.hot_row) are bound on
# the server and prepared once per connection, so that PostgreSQL plans them once, not on every
# call (planning was most of their server time, issue 13). Only those: Django's own cursors bind
# on the client and prepare nothing. Off for a transaction pooler that cannot keep prepared
# statements (PgBouncer before 1.21, or without max_prepared_statements).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg prepares a statement of a server-bound cursor once it has run this many times;
    # Django's default, None, prepares nothing.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        0 if DATABASE_PREPARED_STATEMENTS else None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "campaigns.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Proxies in front of the app that append to X-Forwarded-For (0: none, REMOTE_ADDR is the
# client). Login and SAP MC lockouts count failures per client address.
PROXY_COUNT = env_int("PROXY_COUNT", 0, minimum=0)
# The addresses those proxies connect from: X-Forwarded-For is read only from them. A request
# that reaches the app from anywhere else is its own caller, whatever it claims.
PROXY_ADDRESSES = env_networks("PROXY_ADDRESSES", ["127.0.0.1", "::1"])
# Login throttling (django-axes, failures in the database so that every web process sees them):
# after LOGIN_FAILURE_LIMIT wrong passwords for one user name from one address, that pair is
# locked for LOGIN_COOLOFF_MINUTES; a successful login resets its count. Per pair, not per
# address alone, so that one person's typos never lock out colleagues behind the same NAT. An
# address alone is locked after LOGIN_ADDRESS_FAILURE_LIMIT wrong passwords for any user names
# within the same time (a few guesses at every user name); an IPv6 caller counts per /64.
AXES_HANDLER = "campaigns.login_throttle.LoginLockoutHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
if LOGIN_ADDRESS_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    # Below the pair's limit it would be the only one, and one person's typos would lock out
    # everyone behind the same address.
    raise ImproperlyConfigured(
        f"LOGIN_ADDRESS_FAILURE_LIMIT must be at least LOGIN_FAILURE_LIMIT "
        f"({AXES_FAILURE_LIMIT}); got {LOGIN_ADDRESS_FAILURE_LIMIT}"
    )
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "campaigns.login_throttle.login_locked_response"
AXES_CLIENT_IP_CALLABLE = "smcbridge.client_ip.lockout_address"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
if zone_named(TIME_ZONE) is None:
    raise ImproperlyConfigured(f"TIME_ZONE must be an IANA zone name; got {TIME_ZONE!r}")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# A sign-in lasts one working day (SESSION_HOURS, counted from the login, not from the last click):
# Django's 14 days left a session on a shared or lost laptop open for two weeks. Not renewed on
# activity: a tab left open polls, and would keep its session alive for ever (and write it on
# every request). A session that ends while a page is open sends its next click to the login page,
# which leads back. Changing a password (the Django admin) ends that user's other sessions
# (Django checks each session's password hash).
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# HTTPS in production (README "Deployment"); all off by default so that the demo and the tests
# run on plain loopback HTTP. Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER makes
# Django trust its X-Forwarded-Proto (only safe when the proxy always sets or strips it).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz and /healthz/live answer the monitor and the load balancer over plain HTTP inside the
# network.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/live)?$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# An internal tool's host is not submitted to the browsers' HSTS preload list, so `check
# --deploy` need not say so; SECURE_HSTS_PRELOAD=1 opts in all the same.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Khoros. Credentials are checked when first used, so tests and the demo boot without them.
KHOROS_BASE_URL = env_url("KHOROS_BASE_URL", demo.KHOROS_BASE_URL)
KHOROS_TOKEN = env_str("KHOROS_TOKEN", demo.KHOROS_TOKEN)
KHOROS_COMPANY_ID = env_str("KHOROS_COMPANY_ID", demo.KHOROS_COMPANY_ID)
# Daily buckets and Plan days use the company's zone; empty means the API user's (/v2/whoami).
# Checked here: an unknown name failed each Plan sync as if Khoros had sent it.
KHOROS_COMPANY_TIMEZONE = env_timezone("KHOROS_COMPANY_TIMEZONE", "", optional=True)
KHOROS_TIMEOUT_CONNECT = env_float("KHOROS_TIMEOUT_CONNECT", DEFAULT_TIMEOUT_CONNECT, minimum=0.1)
KHOROS_TIMEOUT_READ = env_float("KHOROS_TIMEOUT_READ", DEFAULT_TIMEOUT_READ, minimum=0.1)
KHOROS_MAX_RETRIES = env_int("KHOROS_MAX_RETRIES", DEFAULT_MAX_RETRIES, minimum=0)
KHOROS_BACKOFF_BASE = env_float("KHOROS_BACKOFF_BASE", DEFAULT_BACKOFF_BASE, minimum=0.0)
KHOROS_BACKOFF_CAP = env_float("KHOROS_BACKOFF_CAP", DEFAULT_BACKOFF_CAP, minimum=0.0)
# Seconds a call may spend in retries and backoff waits before it gives up.
KHOROS_RETRY_BUDGET_SECONDS = env_float(
    "KHOROS_RETRY_BUDGET_SECONDS", DEFAULT_RETRY_BUDGET_SECONDS, minimum=0.0
)
# Wall-clock seconds one attempt of a call may take, from connect to the last byte of the answer
# (the read timeout bounds each read only: a body dripping in never trips it).
KHOROS_DEADLINE_SECONDS = env_float(
    "KHOROS_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS, minimum=1.0
)
# The same for an export download, its rows read included; kept below SYNC_LEASE_SECONDS.
KHOROS_DOWNLOAD_DEADLINE_SECONDS = env_float(
    "KHOROS_DOWNLOAD_DEADLINE_SECONDS", DEFAULT_DOWNLOAD_DEADLINE_SECONDS, minimum=1.0
)
# Host names an export download link may lead to although they resolve to private addresses
# (besides KHOROS_BASE_URL's own host and port); any other must resolve to public ones only.
KHOROS_DOWNLOAD_HOSTS = env_host_names("KHOROS_DOWNLOAD_HOSTS", [])
# Items per list page asked of Khoros (it answers at most 100).
KHOROS_PAGE_SIZE = env_int("KHOROS_PAGE_SIZE", 100, minimum=1)
KHOROS_SYNC_MINUTES = env_int("KHOROS_SYNC_MINUTES", 30, minimum=1)
# KPI sync: every 4 hours, re-pulling the trailing days because social metrics keep changing.
KHOROS_KPI_SYNC_MINUTES = env_int("KHOROS_KPI_SYNC_MINUTES", 240, minimum=1)
KHOROS_KPI_TRAILING_DAYS = env_int("KHOROS_KPI_TRAILING_DAYS", 7, minimum=1)
# Our KPI names -> Khoros analytics field ids. The catalogue is not public; the defaults are the
# simulator's (GET /v2/analytics/export/posts/fields should list an account's, but its published
# answer is "Coming Soon": ask Khoros; check --deploy warns while these are the demo's).
# The keys are khoros.kpi_catalog's exported KPIs (settings import no app; a test holds them equal).
KHOROS_KPI_FIELD_DEFAULTS = demo.KHOROS_KPI_FIELDS
KHOROS_KPI_FIELDS = env_mapping(
    "KHOROS_KPI_FIELDS",
    KHOROS_KPI_FIELD_DEFAULTS,
    convert=positive_int,
    keys=tuple(KHOROS_KPI_FIELD_DEFAULTS),
)
# The export columns that place a row: the spec returns columns as requested, in that order,
# so the bridge asks for these by field id and reads them by position when the header does not
# name them. The defaults are the simulator's; a company's real ids come from its field catalogue.
KHOROS_EXPORT_FIELD_POST_ID = env_int(
    "KHOROS_EXPORT_FIELD_POST_ID", demo.KHOROS_EXPORT_FIELD_POST_ID, minimum=1
)
KHOROS_EXPORT_FIELD_PLAN = env_int(
    "KHOROS_EXPORT_FIELD_PLAN", demo.KHOROS_EXPORT_FIELD_PLAN, minimum=1
)
KHOROS_EXPORT_FIELD_PUBLISHED = env_int(
    "KHOROS_EXPORT_FIELD_PUBLISHED", demo.KHOROS_EXPORT_FIELD_PUBLISHED, minimum=1
)
distinct_field_ids(
    {
        "KHOROS_EXPORT_FIELD_POST_ID": KHOROS_EXPORT_FIELD_POST_ID,
        "KHOROS_EXPORT_FIELD_PLAN": KHOROS_EXPORT_FIELD_PLAN,
        "KHOROS_EXPORT_FIELD_PUBLISHED": KHOROS_EXPORT_FIELD_PUBLISHED,
        **{f"KHOROS_KPI_FIELDS[{kpi}]": fid for kpi, fid in KHOROS_KPI_FIELDS.items()},
    }
)
# An export still not complete this long after it was requested is abandoned (the run fails).
KHOROS_EXPORT_MAX_WAIT_SECONDS = env_float("KHOROS_EXPORT_MAX_WAIT_SECONDS", 900.0, minimum=1.0)
# First wait between export status polls, doubled after each poll up to a cap.
KHOROS_EXPORT_POLL_BASE = env_float("KHOROS_EXPORT_POLL_BASE", 2.0, minimum=0.0)

# SAP Marketing Cloud (OData campaign API). The category code of Khoros campaigns is customer
# configuration, as are the lifecycle codes.
SAPMC_BASE_URL = env_url("SAPMC_BASE_URL", demo.SAPMC_BASE_URL)
SAPMC_USER = env_str("SAPMC_USER", demo.SAPMC_USER)
SAPMC_PASSWORD = env_str("SAPMC_PASSWORD", demo.SAPMC_PASSWORD)
# CampaignCategory is at most 3 characters in SAP's EDMX (standard codes look like "A1");
# customer categories are commonly Y../Z..: the demo tenant files Khoros campaigns under Z01.
SAPMC_CAMPAIGN_CATEGORY = env_code("SAPMC_CAMPAIGN_CATEGORY", "Z01", max_length=3)
# SAP MC's time zone: CampaignStartDate/EndDate are instants, read as days in this zone.
SAPMC_TIMEZONE = env_timezone("SAPMC_TIMEZONE", "UTC")
SAPMC_TIMEOUT_CONNECT = env_float("SAPMC_TIMEOUT_CONNECT", DEFAULT_TIMEOUT_CONNECT, minimum=0.1)
SAPMC_TIMEOUT_READ = env_float("SAPMC_TIMEOUT_READ", DEFAULT_TIMEOUT_READ, minimum=0.1)
SAPMC_MAX_RETRIES = env_int("SAPMC_MAX_RETRIES", DEFAULT_MAX_RETRIES, minimum=0)
SAPMC_BACKOFF_BASE = env_float("SAPMC_BACKOFF_BASE", DEFAULT_BACKOFF_BASE, minimum=0.0)
SAPMC_BACKOFF_CAP = env_float("SAPMC_BACKOFF_CAP", DEFAULT_BACKOFF_CAP, minimum=0.0)
# Seconds a call may spend in retries and backoff waits before it gives up.
SAPMC_RETRY_BUDGET_SECONDS = env_float(
    "SAPMC_RETRY_BUDGET_SECONDS", DEFAULT_RETRY_BUDGET_SECONDS, minimum=0.0
)
# Wall-clock seconds one attempt of a call may take, from connect to the last byte of the answer.
SAPMC_DEADLINE_SECONDS = env_float("SAPMC_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS, minimum=1.0)
# Campaigns per OData page ($top) asked of SAP MC.
SAPMC_PAGE_SIZE = env_int("SAPMC_PAGE_SIZE", 100, minimum=1)
SAPMC_SYNC_MINUTES = env_int("SAPMC_SYNC_MINUTES", 60, minimum=1)
# Success rows per $batch request to API_MKT_CMPGN_SUCCESS_IMPORT_SRV (one change set per row).
SAPMC_SUCCESS_BATCH_SIZE = env_int("SAPMC_SUCCESS_BATCH_SIZE", 100, minimum=1)
# The success push: daily numbers of assigned Plans into SAP MC's success import (off by default:
# it writes into SAP MC; the demo turns it on).
SAPMC_SUCCESS_PUSH_ENABLED = env_bool("SAPMC_SUCCESS_PUSH_ENABLED", False)
SAPMC_SUCCESS_PUSH_MINUTES = env_int("SAPMC_SUCCESS_PUSH_MINUTES", 360, minimum=1)
# A day is sent once this many days have passed since it (the KPI sync re-pulls the trailing
# KHOROS_KPI_TRAILING_DAYS): later corrections in Khoros would otherwise be lost or counted twice.
SAPMC_SUCCESS_SETTLE_DAYS = env_int(
    "SAPMC_SUCCESS_SETTLE_DAYS", KHOROS_KPI_TRAILING_DAYS, minimum=0
)
# The SAP time-zone code (TTZZ, at most 6 characters) of the company zone, when the bridge's
# table of common zones does not know it. Checked here, not only when a push runs.
SAPMC_SUCCESS_TIMEZONE_CODE = env_code(
    "SAPMC_SUCCESS_TIMEZONE_CODE", "", max_length=6, optional=True
)
# SAP MC's calls to the bridge (/sapmc/extcamp/v1/): its communication user. An empty password
# means a demo password under DEBUG and every call refused otherwise; the API decides that when
# a call comes in, so the app boots without it.
SAPMC_INBOUND_USER = env_str("SAPMC_INBOUND_USER", "sapmc-inbound")
SAPMC_INBOUND_PASSWORD = env_str("SAPMC_INBOUND_PASSWORD", "")
# After this many calls with wrong credentials from one address within the lockout time, its
# calls are answered 429 (with Retry-After) for that long; a right password clears the count.
SAPMC_INBOUND_FAILURE_LIMIT = env_int("SAPMC_INBOUND_FAILURE_LIMIT", 10, minimum=1)
SAPMC_INBOUND_LOCKOUT_MINUTES = env_int("SAPMC_INBOUND_LOCKOUT_MINUTES", 15, minimum=1)
# How many days of SAP MC's inbound calls the call log keeps; a schedule prunes older rows.
SAPMC_CALL_LOG_DAYS = env_int("SAPMC_CALL_LOG_DAYS", 30, minimum=1)
SAPMC_CALL_LOG_PRUNE_MINUTES = env_int("SAPMC_CALL_LOG_PRUNE_MINUTES", 1440, minimum=1)
# How many days SAP MC's success reports are kept after they completed (or, never completed,
# were made): SAP MC polls a report until it completes; an older ReportId answers UNKNOWN_REPORT.
SAPMC_REPORT_DAYS = env_int("SAPMC_REPORT_DAYS", 90, minimum=1)
# A success report needs no new KPI sync when the last one succeeded this recently.
SAPMC_REPORT_FRESH_MINUTES = env_int("SAPMC_REPORT_FRESH_MINUTES", 60, minimum=0)
# A report whose KPI sync ended without success (and whose days the bridge does not hold)
# answers 503 with this Retry-After, in seconds.
SAPMC_REPORT_RETRY_SECONDS = env_int("SAPMC_REPORT_RETRY_SECONDS", 900, minimum=1)
# Link to a Plan in Khoros that SAP MC shows as ExternalCampaignURL; "{plan_id}" becomes the
# Plan's UUID. Empty: no link.
SAPMC_EXTERNAL_CAMPAIGN_URL = env_url("SAPMC_EXTERNAL_CAMPAIGN_URL", "", optional=True)

# Alerts: one email to the sync admins when a kind fails this many runs in a row or has not
# succeeded for STALE_AFTER_INTERVALS of its schedule intervals, one more when it recovers.
ALERT_AFTER_FAILURES = env_int("ALERT_AFTER_FAILURES", 3, minimum=1)
ALERT_EMAILS = env_emails("ALERT_EMAILS")
# The address people open the dashboard at (https://smcbridge.example.com): alert emails link
# to the kind's runs and its latest failed run there. Empty: the emails carry no links (the
# bridge does not guess its own address from ALLOWED_HOSTS, which need not be reachable).
SITE_URL = env_url("SITE_URL", "", optional=True).rstrip("/")
# /healthz is public (monitors call it without signing in) and shows no error text; a request
# with "Authorization: Bearer <HEALTHZ_TOKEN>" (or a sync admin's session) gets the texts too.
# Empty: only sync admins do.
HEALTHZ_TOKEN = env_str("HEALTHZ_TOKEN", "")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "smcbridge@localhost")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds an alert email waits for the mail relay: without it a relay that never answers held
# the alert check until django-q2 killed it. An email not sent goes with the next check.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)

# Housekeeping (docs/retention.md): one schedule runs every app's pruning this often, each
# deleting in bounded batches what is older than its retention and no later run needs.
HOUSEKEEPING_MINUTES = env_int("HOUSEKEEPING_MINUTES", 1440, minimum=1)
# Days a finished KPI export is kept (those a later KPI run reads are kept whatever their age).
KHOROS_KPI_EXPORT_DAYS = env_int("KHOROS_KPI_EXPORT_DAYS", 7, minimum=1)
# Days of the login log (django-axes' AccessLog: one row per sign-in and its sign-out).
LOGIN_LOG_DAYS = env_int("LOGIN_LOG_DAYS", 180, minimum=1)
# Days django-q2 keeps a failed task (successes it caps itself at Q_CLUSTER's save_limit); each
# schedule's latest task is kept whatever its age, for the Schedules page.
TASK_FAILURE_DAYS = env_int("TASK_FAILURE_DAYS", 30, minimum=1)

# Single-flight lease of a sync run: refreshed by its heartbeat, taken over once expired.
SYNC_LEASE_SECONDS = env_int("SYNC_LEASE_SECONDS", 300, minimum=10)

# django-q2: the ORM broker by default, Redis when REDIS_URL is set. `timeout` stays below
# `retry` so a slow task is never handed to a second worker while the first still runs.
# Checked here, not only by the worker: a malformed one passed `check` and started the web server.
REDIS_URL = env_redis_url("REDIS_URL")
Q_CLUSTER: dict[str, Any] = {  # django-q2 options of mixed types
    "name": "smcbridge",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": 1800,
    "retry": 2100,
    "max_attempts": 2,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "label": "Task queue",
    # django-q2 requires this key once Q_CLUSTER_NAME names a queue of its own: the tests give
    # each pytest-xdist worker (and the qcluster it starts) its own Redis queue that way.
    "ALT_CLUSTERS": {},
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 1

LOG_LEVEL = env_loglevel("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "class": "smcbridge.log_filters.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "filters": {
        "refusals": {"()": "smcbridge.log_filters.RefusalsWithoutTraceback"},
        "request_targets": {"()": "smcbridge.log_filters.RequestTargetsRedacted"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["refusals"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # On the logger, not a handler: every handler (a test's capture too) gets the redacted
        # line. Its DEBUG lines quote each URL, a signed link's credential included.
        "urllib3.connectionpool": {"filters": ["request_targets"]},
        # Only our handler: Django's own console handler (on while DEBUG is) printed each of its
        # lines a second time, with the traceback our filter leaves out. Its level follows
        # LOG_LEVEL up (WARNING drops django.server's line per request) but never below INFO: at
        # DEBUG Django's autoreloader logs each file it watches, thousands of lines.
        "django": {
            "handlers": ["console"],
            "level": max(LOG_LEVEL, "INFO", key=LOG_LEVELS.index),
            "propagate": False,
        },
    },
}
