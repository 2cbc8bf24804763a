"""The engine's pages: sync history, one run live, Run again (sync admins), and health."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from smcbridge.http import AuthenticatedHttpRequest
from smcbridge.paging import page_of
from syncs import notifications as sync_notifications
from syncs import registry as sync_registry
from syncs import runs as sync_runs
from syncs import selectors as sync_selectors
from syncs import wording
from syncs.access import may_read_health_errors, sync_admin_required
from syncs.connection import connection_header
from syncs.forms import SyncHistoryFilterForm
from syncs.health import health_check, web_alive
from syncs.models import Notification, SyncRun

HISTORY_PAGE_SIZE = 50
# The tag of a sync button's message (templates/base.html shows it apart).
SYNC_RUN_MESSAGE = "sync-run"


# Live records (never_cache, as the workbench and calendar): Back after Run again showed the
# page the browser kept, a run still "running" that had just been taken over.
@never_cache
@sync_admin_required("Sync history is for sync admins.")
@login_required
def sync_history(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every sync run, filterable by kind, status, trigger and day."""
    form = SyncHistoryFilterForm(request.GET)
    filters = form.filters()
    runs = sync_selectors.sync_runs(filters=filters)
    page = page_of(Paginator(runs, HISTORY_PAGE_SIZE), request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    kind = filters.kind
    return render(
        request,
        "syncs/sync_history.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            # Filtered by kind, the page opens with that kind's connection header.
            "header": connection_header(kind) if kind else None,
            "kinds": SyncRun.Kind.choices,
        },
    )


def _progress_state(run: SyncRun) -> str:
    """How the progress bar looks: a failed run's bar is red and says it stopped."""
    if run.status == SyncRun.Status.FAILED:
        return "failed"
    if run.status in (SyncRun.Status.PARTIAL, SyncRun.Status.DEFERRED):
        return "partial"
    return "done" if run.status == SyncRun.Status.SUCCEEDED else ""


@never_cache
@login_required
@sync_admin_required("Sync history is for sync admins.")
def sync_run_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One run, its per-item outcomes and error; the live part refreshes while it runs."""
    run = get_object_or_404(SyncRun.objects.select_related("requested_by"), pk=pk)
    context = {
        "run": run,
        "can_run_again": sync_registry.is_registered(run.kind),
        "progress_state": _progress_state(run),
        "outcome_rows": wording.outcome_rows(run.outcomes or []),
        "run_summary": wording.run_summary(run.outcomes or []),
        "unknown_outcome": wording.unknown_outcome(run.outcomes or []),
    }
    if request.htmx and request.htmx.target == "run-live":
        return render(request, "syncs/sync_run.html#live", context)
    return render(request, "syncs/sync_run.html", context)


@login_required
@require_POST
@sync_admin_required("Sync history is for sync admins.")
def sync_run_again(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Queue a new run of the same kind (or show the one already queued or running)."""
    run = get_object_or_404(SyncRun, pk=pk)
    new = sync_from_button(request, run.kind, "This kind of sync cannot be started from here.")
    return redirect("sync-run", pk=new.pk)


def sync_from_button(request: AuthenticatedHttpRequest, kind: str, refusal: str) -> SyncRun:
    """A person's sync button (Sync now, Run again): a kind not registered is refused with
    `refusal`; otherwise a run is queued, or the one queued or running reused, and the page
    says which."""
    if not sync_registry.is_registered(kind):
        raise Http404(refusal)
    run, queued = sync_runs.sync_request(
        kind=kind, trigger=SyncRun.Trigger.BUTTON, requested_by=request.user
    )
    if queued and run.status == SyncRun.Status.FAILED:
        # The broker did not take its task (sync_runs.BROKER_REFUSED_ERROR): said in plain words
        # and untagged, so that it stays on the page, unlike a message about a run under way.
        text = (
            f"{run.get_kind_display()} sync #{run.pk} could not be started: the task queue "
            f"did not take it, so no worker will run it. Press the button again in a minute; "
            f"if it keeps failing, the task queue (Redis) needs attention. Details: {run.error}"
        )
        messages.error(request, text)
        return run
    # Tagged: the page drops the message once the run it polls has finished (base.html).
    if queued:
        text = f"{run.get_kind_display()} sync #{run.pk} queued."
        messages.success(request, text, extra_tags=SYNC_RUN_MESSAGE)
    else:
        text = f"{run.get_kind_display()} sync #{run.pk} is already {run.status}."
        messages.info(request, text, extra_tags=SYNC_RUN_MESSAGE)
    return run


@login_required
@sync_admin_required("Sync history is for sync admins.")
def notification_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The alerts waiting for a sync admin, and the history of every alert with its dismissal."""
    return render(
        request,
        "syncs/notifications.html",
        {
            "open": list(sync_notifications.notifications_open()),
            "history": sync_notifications.notifications_history(),
        },
    )


@login_required
@sync_admin_required("Sync history is for sync admins.")
def notification_count(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The open-alert count as a fragment: the top bar's badge, or the dashboard's line.

    Outages only: a recovery's notice stays listed until dismissed, but a red count while
    everything is healthy sent admins looking for a fault there was not.
    """
    place = "dashboard" if request.GET.get("place") == "dashboard" else "topbar"
    outages = sync_notifications.notifications_open().filter(event=Notification.Event.OUTAGE)
    return render(request, "syncs/_alerts_count.html", {"count": outages.count(), "place": place})


@login_required
@require_POST
@sync_admin_required("Sync history is for sync admins.")
def notification_dismiss(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Dismiss one alert for every admin; who and when stay in the history."""
    get_object_or_404(Notification, pk=pk)
    if sync_notifications.notification_dismiss(notification_id=pk, user=request.user):
        messages.success(request, "Alert dismissed.")
    else:
        messages.info(request, "That alert was already dismissed.")
    return redirect("sync-notifications")


# A monitor's probe: no session needed. Error texts only for a sync admin or the token's bearer;
# the answer differs by who asks, so no cache may keep it.
@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON for a monitor: 200 when the database, the broker and every sync are healthy."""
    health = health_check()
    return JsonResponse(
        health.as_json(with_errors=may_read_health_errors(request)),
        status=200 if health.ok else 503,
    )


@login_not_required  # a load balancer's probe
def healthz_live(request: HttpRequest) -> JsonResponse:
    """JSON for a load balancer: 200 while this process can serve pages (its database reads),
    whatever the syncs do; /healthz would take the pages out of rotation for a failing sync."""
    alive = web_alive()
    return JsonResponse({"status": "ok" if alive else "down"}, status=200 if alive else 503)
