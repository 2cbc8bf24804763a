from __future__ import annotations

from django.apps import AppConfig


class KhorosConfig(AppConfig):
    name = "khoros"
    verbose_name = "Khoros"

    def ready(self) -> None:
        from khoros import sync_kinds

        sync_kinds.register()
