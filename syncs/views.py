"""The engine's pages: sync history, one run live, Run again (sync admins), and health."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from syncs import registry as sync_registry
from syncs import runs as sync_runs
from syncs import selectors as sync_selectors
from syncs.access import sync_admin_required
from syncs.forms import SyncHistoryFilterForm
from syncs.health import health_check
from syncs.models import SyncRun

HISTORY_PAGE_SIZE = 50


@login_required
@sync_admin_required("Sync history is for sync admins.")
def sync_history(request: HttpRequest) -> HttpResponse:
    """Every sync run, filterable by kind, status, trigger and day."""
    form = SyncHistoryFilterForm(request.GET)
    runs = sync_selectors.sync_runs(filters=form.filters())
    page = Paginator(runs, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "syncs/sync_history.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@login_required
@sync_admin_required("Sync history is for sync admins.")
def sync_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run, its per-item outcomes and error; the live part refreshes while it runs."""
    run = get_object_or_404(SyncRun.objects.select_related("requested_by"), pk=pk)
    context = {"run": run, "can_run_again": sync_registry.is_registered(run.kind)}
    if request.htmx and request.htmx.target == "run-live":
        return render(request, "syncs/sync_run.html#live", context)
    return render(request, "syncs/sync_run.html", context)


@login_required
@require_POST
@sync_admin_required("Sync history is for sync admins.")
def sync_run_again(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a new run of the same kind (or show the one already queued or running)."""
    run = get_object_or_404(SyncRun, pk=pk)
    if not sync_registry.is_registered(run.kind):
        raise PermissionDenied("This kind of sync cannot be started from here.")
    new, queued = sync_runs.sync_request(
        kind=run.kind, trigger=SyncRun.Trigger.BUTTON, requested_by=request.user
    )
    if queued:
        messages.success(request, f"{new.get_kind_display()} sync #{new.pk} queued.")
    else:
        messages.info(request, f"{new.get_kind_display()} sync #{new.pk} is already {new.status}.")
    return redirect("sync-run", pk=new.pk)


@login_not_required  # a load balancer's probe: no session, no detail beyond ok/stale
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON for a load balancer or a monitor: 200 when healthy, 503 when not."""
    health = health_check()
    return JsonResponse(health.as_json(), status=200 if health.ok else 503)
