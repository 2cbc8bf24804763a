"""Each django-q2 schedule's latest finished task, recorded as django-q2 saves it."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from django_q.models import Task

from syncs.models import ScheduleLastTask

logger = logging.getLogger(__name__)


def record_schedule_task(sender: type[Task], instance: Task, **kwargs: Any) -> None:
    """django-q2 saved a finished task (post_save of its Task: a success, a failure, a timeout,
    a retry's new attempt): a scheduled one, in the group named after its schedule, becomes
    that schedule's last task unless a later one is recorded already."""
    if not instance.group or instance.stopped is None:
        return
    fields = {
        "task_id": instance.id,
        "succeeded": bool(instance.success),
        "stopped": instance.stopped,
    }
    try:
        recorded = ScheduleLastTask.objects.filter(
            name=instance.group, stopped__lte=instance.stopped
        )
        if not recorded.update(**fields):
            _, created = ScheduleLastTask.objects.get_or_create(
                name=instance.group, defaults=fields
            )
            if not created:
                # Another worker made the row meanwhile, maybe with an older task: the
                # conditional update again keeps whichever stopped last.
                recorded.update(**fields)
    except DatabaseError:
        # The task's own record is saved; django-q2's bookkeeping (acknowledging it) goes on.
        logger.exception("Could not record the last task of schedule %r", instance.group)
