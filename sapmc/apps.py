from __future__ import annotations

from django.apps import AppConfig


class SapmcConfig(AppConfig):
    name = "sapmc"
    verbose_name = "SAP MC"

    def ready(self) -> None:
        from sapmc import sync_kinds

        sync_kinds.register()
