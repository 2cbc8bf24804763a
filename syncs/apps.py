from __future__ import annotations

from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"

    def ready(self) -> None:
        from syncs import housekeeping, registry

        # django-q2 keeps every failed task: the engine prunes them (it runs django-q2).
        registry.register_pruner(
            name="failed background tasks", func=housekeeping.prune_failed_tasks
        )
