"""System checks of a deployment that Django's own `check --deploy` cannot know about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from smcbridge.demo_values import DEMO_VALUES


@checks.register(checks.Tags.security, deploy=True)
def proxy_count_behind_a_proxy(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when the settings say a proxy is in front but PROXY_COUNT counts none.

    Behind a proxy every request's REMOTE_ADDR is the proxy's, so with PROXY_COUNT 0 the login
    and SAP MC lockouts count every client as one address: a stranger's few wrong guesses lock
    a user out of the login page, and SAP MC out of its endpoints, for everyone.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and settings.PROXY_COUNT == 0:
        return [
            checks.Warning(
                "SECURE_PROXY_SSL_HEADER says a proxy is in front, but PROXY_COUNT is 0: the "
                "login and SAP MC lockouts count every client as the proxy's address.",
                hint="Set PROXY_COUNT to the number of proxies that append to X-Forwarded-For "
                "(1 for the one of the documented setup).",
                id="smcbridge.W001",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def demo_values_left(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn of each setting a deployment left at the demo's value: the defaults are the
    simulators' addresses, credentials and field ids, so that the demo needs no configuration,
    and a deployment that forgot one started cleanly and talked to nothing (or asked Khoros
    for the simulator's analytics fields, every KPI then zero)."""
    left = [name for name, value in DEMO_VALUES.items() if getattr(settings, name) == value]
    if not left:
        return []
    return [
        checks.Warning(
            f"{', '.join(left)} {'is' if len(left) == 1 else 'are'} the demo's (the simulators'"
            "): set them to your Khoros and SAP MC.",
            hint='README, "Against the real Khoros and SAP MC"; deploy/production.env.example.',
            id="smcbridge.W002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def inbound_password_missing(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when SAP MC's calls have no password to be checked against.

    With DEBUG off the inbound API refuses every call then (401), which shows only once SAP MC
    calls, in its value help and reports: `check --deploy`, the gate the README gives a
    deployment, must say so before.
    """
    if settings.DEBUG or settings.SAPMC_INBOUND_PASSWORD:
        return []
    return [
        checks.Warning(
            "SAPMC_INBOUND_PASSWORD is not set: every call SAP MC makes to the bridge "
            "(/sapmc/extcamp/v1/) is refused with 401.",
            hint="Set it to the password of SAP MC's communication user "
            "(SAPMC_INBOUND_USER; README, section SAP MC's calls).",
            id="smcbridge.W003",
        )
    ]


@checks.register()
def email_backend_importable(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse an EMAIL_BACKEND that names no class: Django imports it only when the first alert
    is sent, so a mistyped one ("smtp") passed every start and each alert check then failed to
    send, its emails waiting for ever. An error stops `check`, `migrate` and the worker."""
    try:
        import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return [
            checks.Error(
                f"EMAIL_BACKEND {settings.EMAIL_BACKEND!r} names no importable class: no alert "
                "email could be sent.",
                hint="django.core.mail.backends.smtp.EmailBackend sends them; "
                "django.core.mail.backends.console.EmailBackend prints them (README, "
                "Configuration).",
                id="smcbridge.E001",
            )
        ]
    return []
