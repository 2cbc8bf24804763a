"""System checks of a deployment that Django's own `check --deploy` cannot know about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


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
