"""Pages for people: the dashboard and the sync button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns.access import is_sync_admin, visible_initiatives
from khoros import runs as khoros_runs
from khoros import selectors as khoros_selectors
from khoros.models import SyncRun
from smcbridge.schedules import SYNC_TASKS


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The first page after login: recent syncs and what is mirrored."""
    runs = khoros_selectors.sync_runs_recent(limit=10)
    context = {
        "runs": runs,
        "runs_active": any(not run.is_finished for run in runs),
        "counts": khoros_selectors.mirror_counts(initiatives=visible_initiatives(request.user)),
        "is_sync_admin": is_sync_admin(request.user),
        "sync_kinds": [SyncRun.Kind.KHOROS_PLANS],
    }
    if request.htmx and request.htmx.target == "sync-runs":
        return render(request, "campaigns/dashboard.html#runs", context)
    return render(request, "campaigns/dashboard.html", context)


@login_required
@require_POST
def sync_now(request: HttpRequest, kind: str) -> HttpResponse:
    """Queue a sync of `kind` for the worker; one already queued or running is reused."""
    if not is_sync_admin(request.user):
        raise PermissionDenied("Only sync admins can start a sync.")
    if kind not in SYNC_TASKS:
        raise PermissionDenied("Unknown sync kind.")
    run, queued = khoros_runs.sync_request(
        kind=kind, trigger=SyncRun.Trigger.BUTTON, requested_by=request.user
    )
    if queued:
        messages.success(request, f"{run.get_kind_display()} sync #{run.pk} queued.")
    else:
        messages.info(request, f"{run.get_kind_display()} sync #{run.pk} is already {run.status}.")
    return redirect("dashboard")
