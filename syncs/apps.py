from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_save


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"

    def ready(self) -> None:
        from django_q.models import Task

        from syncs import housekeeping, registry
        from syncs.task_record import record_schedule_task

        post_save.connect(record_schedule_task, sender=Task, dispatch_uid="syncs.schedule_task")
        # django-q2 keeps every failed task: the engine prunes them (it runs django-q2).
        registry.register_pruner(
            name="failed background tasks", func=housekeeping.prune_failed_tasks
        )
