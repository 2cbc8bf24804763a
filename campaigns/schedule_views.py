"""The schedules page for sync admins: every change is audited, so it lives with the audit."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_q.models import Schedule

from campaigns import services as campaigns_services
from campaigns.access import sync_admin_required
from campaigns.forms import ScheduleForm
from smcbridge.http import AuthenticatedHttpRequest
from syncs import selectors as sync_selectors
from syncs.schedules import declared_schedules, schedule_kinds


@sync_admin_required("Schedules are for sync admins.")
@login_required
def schedules(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The background schedules with their next run, in the viewer's time zone."""
    names = [spec.name for spec in declared_schedules()]
    kind_of = schedule_kinds()
    last_runs = sync_selectors.sync_last_runs()
    # The schedules that record no sync run: django-q2's own record of their tasks.
    last_tasks = sync_selectors.schedule_last_tasks(
        names=[name for name in names if name not in kind_of]
    )
    rows = []
    for schedule in Schedule.objects.filter(name__in=names).order_by("name"):
        enabled = schedule.repeats != 0
        initial = {
            "minutes": schedule.minutes,
            "enabled": enabled,
            "seen_minutes": schedule.minutes,
            "seen_enabled": "on" if enabled else "off",
        }
        form = ScheduleForm(initial=initial, prefix=str(schedule.pk))
        kind = kind_of.get(schedule.name)
        last_run = last_runs.get(kind) if kind else None
        last_task = None if kind else last_tasks.get(schedule.name)
        rows.append((schedule, form, last_run, last_task))
    return render(request, "campaigns/schedules.html", {"rows": rows})


@login_required
@require_POST
@sync_admin_required("Schedules are for sync admins.")
def schedule_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Change one schedule's interval or switch it on or off."""
    schedule = get_object_or_404(Schedule, pk=pk)
    form = ScheduleForm(request.POST, prefix=str(pk))
    if not form.is_valid():
        # Each message once: both hidden fields of an out-of-date page say the same thing.
        errors = "; ".join(dict.fromkeys(f"{e}" for errs in form.errors.values() for e in errs))
        messages.error(request, f"“{schedule.name}” was not changed: {errors}")
        return redirect("schedules")
    data = form.cleaned_data
    try:
        update = campaigns_services.schedule_update(
            schedule=schedule,
            minutes=data["minutes"],
            enabled=data["enabled"],
            acting_user=request.user,
            seen_minutes=data["seen_minutes"],
            seen_enabled=data["seen_enabled"],
        )
    except campaigns_services.ScheduleChangedError as exc:
        wanted = f"every {data['minutes']} min, {'on' if data['enabled'] else 'off'}"
        messages.error(
            request,
            f"“{schedule.name}” was not changed: {exc}. Your change ({wanted}) was not saved; "
            "the page shows the schedule as it is now.",
        )
        return redirect("schedules")
    schedule = update.schedule
    state = "on" if schedule.repeats != 0 else "off"
    if not update.changed:
        messages.info(
            request,
            f"“{schedule.name}” is already every {schedule.minutes} min, {state}: nothing changed.",
        )
        return redirect("schedules")
    due_now = schedule.repeats != 0 and schedule.next_run is not None
    due_now = due_now and schedule.next_run <= timezone.now()
    messages.success(
        request,
        f"“{schedule.name}”: every {schedule.minutes} min, {state}."
        + (" It runs now, then at its interval." if due_now else ""),
    )
    return redirect("schedules")
