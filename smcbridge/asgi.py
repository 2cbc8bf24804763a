"""ASGI entry point for smcbridge."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smcbridge.settings")
application = get_asgi_application()
