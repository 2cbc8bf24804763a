"""Pages for people: the dashboard, the sync button and the audit trail."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import tzinfo
from itertools import chain, islice

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from campaigns import audit_text, services
from campaigns import selectors as campaigns_selectors
from campaigns.access import (
    is_manager_only,
    is_sync_admin,
    manager_or_admin_required,
    signed_in_required,
    sync_admin_required,
)
from campaigns.calendar import state_of
from campaigns.forms import AuditFilterForm, is_id
from campaigns.home import manager_home
from campaigns.kpi_views import campaign_kpi_context
from campaigns.models import AuditEvent
from khoros import selectors as khoros_selectors
from khoros.zone import company_today, company_zone
from sapmc import selectors as sapmc_selectors
from sapmc.kinds import SAPMC_SUCCESS_PUSH
from sapmc.models import ExternalCampaign
from smcbridge.http import AuthenticatedHttpRequest
from smcbridge.paging import page_of
from syncs import registry as sync_registry
from syncs import selectors as sync_selectors
from syncs.filtering import export_refusal
from syncs.health import health_check
from syncs.views import sync_from_button


# Never kept by the browser: Back must not show runs and health as they were.
@never_cache
@signed_in_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The first page after login: a manager's open work, or an admin's syncs and health."""
    user = request.user
    if is_manager_only(user):
        return render(
            request,
            "campaigns/dashboard.html",
            {"home": manager_home(user=user), **_dashboard_numbers(user), "is_sync_admin": False},
        )
    runs = sync_selectors.sync_runs_recent(limit=10)
    context = {
        "home": None,
        "runs": runs,
        "runs_active": any(not run.is_finished for run in runs),
        **_dashboard_numbers(user),
        "is_sync_admin": is_sync_admin(user),
        "sync_kinds": sync_registry.kinds(),
    }
    if request.htmx and request.htmx.target == "sync-runs":
        return render(request, "campaigns/dashboard.html#runs", context)
    # Rows no push sends again until someone settles them: a push run after them succeeds.
    context["pushes_unknown"] = sapmc_selectors.campaigns_with_pushes_of_unknown_outcome()
    return render(request, "campaigns/dashboard.html", context)


def _dashboard_numbers(user: User) -> dict[str, object]:
    """What both dashboards count, within what the user may see, and the health summary."""
    return {
        "counts": khoros_selectors.mirror_counts(
            initiatives=campaigns_selectors.initiatives_visible(user=user),
            plans=campaigns_selectors.plans_visible(user=user),
        ),
        "campaign_counts": campaigns_selectors.campaign_counts(user=user),
        "health": health_check(),
    }


@login_required
@require_POST
@sync_admin_required("Only sync admins can start a sync.")
def sync_now(request: AuthenticatedHttpRequest, kind: str) -> HttpResponse:
    """Queue a sync of `kind` for the worker; one already queued or running is reused."""
    sync_from_button(request, kind, "Unknown sync kind.")
    # The campaign page's "Push now" comes back to the campaign; only our own paths are followed.
    # A path, not any text: redirect() tried a bare word as a URL name (a 500 once the sync was
    # queued) and followed "1.5" relative to this action's address (a 404).
    back = request.POST.get("next", "")
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        return HttpResponseRedirect(back)
    return redirect("dashboard")


AUDIT_PAGE_SIZE = 50
# Plans in a page of a campaign's Plans table: 300 rows are a page 29,000 px tall.
CAMPAIGN_PLANS_PAGE_SIZE = 50
AUDIT_CSV_COLUMNS = [
    "time", "actor", "action", "campaign", "plan", "summary", "details", "before", "after",
]  # fmt: skip
AUDIT_CSV_BATCH = 500


class _Echo:
    """A write-only file for csv.writer that hands each line back to the response."""

    def write(self, value: str) -> str:
        return value


# What a download's file name keeps of a value SAP MC typed (a campaign ID): letters, digits,
# "-", "." and "_". A line break in the header was a 500, a quote cut the name short, "/" and
# "\" name folders.
_FILE_NAME_UNSAFE = re.compile(r"[^\w.-]")


def file_name_part(text: str) -> str:
    """`text` as a part of a download's file name: every other character becomes "_"."""
    return _FILE_NAME_UNSAFE.sub("_", text)


def csv_download(lines: Iterable[Sequence[object]], filename: str) -> StreamingHttpResponse:
    """`lines` streamed as a CSV file to download, in UTF-8 with a byte order mark.

    Without the mark Excel reads the file in the computer's legacy code page: every “ ” and →
    of the audit's summaries and every non-ASCII name came out garbled ("MÃ¼ller").
    `filename` may hold only what file_name_part() keeps; a non-ASCII name is sent as RFC 6266's
    filename*= (a header Django MIME-encodes is saved as "=?utf-8?b?...").
    """
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        chain(["\ufeff"], (writer.writerow(line) for line in lines)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _audit_rows(events: Iterator[AuditEvent], zone: tzinfo) -> Iterator[Sequence[object]]:
    """`zone`: the viewer's, read by the view (the rows are written after it returned)."""
    yield AUDIT_CSV_COLUMNS
    # In batches: each batch's Initiative and campaign names are read at once, as on the page.
    while batch := list(islice(events, AUDIT_CSV_BATCH)):
        names = audit_text.audit_names(batch)
        for event in batch:
            changes = audit_text.audit_changes(event.action, event.before, event.after, names)
            yield [
                # The viewer's time, as on the page and in its date filter, with its offset.
                event.at.astimezone(zone).isoformat(),
                # A user name may start with "-", "+" or "@"; the campaign id is SAP MC's text.
                _csv_safe(event.actor_name),
                event.action,
                _csv_safe(event.campaign.campaign_id) if event.campaign else "",
                str(event.plan.khoros_id) if event.plan else "",
                _csv_safe(event.summary),
                # The page's Details, a line each; before and after keep the stored ids.
                _csv_safe("\n".join(str(c) for c in changes)),
                json.dumps(event.before, sort_keys=True) if event.before is not None else "",
                json.dumps(event.after, sort_keys=True) if event.after is not None else "",
            ]


@login_required
@sync_admin_required("The audit trail is for sync admins.")
def audit(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Every human change, filterable by actor, campaign and day; CSV with ?format=csv."""
    actors = list(
        get_user_model()
        .objects.filter(pk__in=AuditEvent.objects.values("actor_id"))
        .order_by("username")
        .values_list("pk", "username")
    )
    form = AuditFilterForm(request.GET, actors=actors)
    events = campaigns_selectors.audit_events(filters=form.filters())
    if request.GET.get("format") == "csv":
        if (refusal := export_refusal(form)) is not None:
            return refusal
        return csv_download(
            _audit_rows(
                events.iterator(chunk_size=AUDIT_CSV_BATCH), timezone.get_current_timezone()
            ),
            "smcbridge-audit.csv",
        )
    page = page_of(Paginator(events, AUDIT_PAGE_SIZE), request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # Adoptions of SAP MC's side on this page that were undone already (one query).
    adoptions = [e.pk for e in page if e.action == AuditEvent.Action.DRIFT_ADOPT_SAP]
    undone = (
        {
            undo.before.get("undoes")
            for undo in AuditEvent.objects.filter(action=AuditEvent.Action.DRIFT_UNDO).filter(
                before__undoes__in=adoptions
            )
        }
        if adoptions
        else set()
    )
    # Initiative keys and SAP MC ids read as names (a query each, only when the page has some).
    names = audit_text.audit_names(list(page))
    for event in page:
        # For the template only: an attribute the model does not declare.
        event.changes = audit_text.audit_changes(  # type: ignore[attr-defined]
            event.action, event.before, event.after, names
        )
    return render(
        request,
        "campaigns/audit.html",
        {"form": form, "page": page, "query": query.urlencode(), "undone": undone},
    )


@login_required
@manager_or_admin_required("Campaign pages are for marketing managers and sync admins.")
def campaign_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One campaign: state, Plans, KPI totals and charts (daily, cumulative, pacing, per Plan,
    compared with another campaign), freshness, drift."""
    campaign = get_object_or_404(ExternalCampaign, pk=pk)
    assigned, hidden = campaigns_selectors.campaign_assigned_plans(
        campaign=campaign, user=request.user
    )
    kpi_last = khoros_selectors.kpi_last_success()
    # The company's today, as the Plans' and KPIs' days: running and days so far are the same
    # for every viewer.
    zone = company_zone()
    today = company_today(zone)
    pushes = campaigns_selectors.campaign_pushes(
        campaign=campaign,
        user=request.user,
        sent_page=request.GET.get("spage"),
        waiting_page=request.GET.get("wpage"),
        failed_page=request.GET.get("fpage"),
    )
    context = {
        "campaign": campaign,
        "assigned": assigned,
        "hidden_assigned": hidden,
        "drift": campaigns_selectors.campaign_drift(campaign=campaign, user=request.user),
        "state": state_of(campaign.start, campaign.end, today),
        "kpi_last": kpi_last,
        "kpi_stale": khoros_selectors.kpi_is_stale(kpi_last.finished_at if kpi_last else None),
        "pushes": pushes,
        "push_kind": SAPMC_SUCCESS_PUSH,
        "can_push": is_sync_admin(request.user),
    }
    # Totals, charts, pacing and the comparison: campaigns/kpi_views.py.
    context.update(
        campaign_kpi_context(
            campaign=campaign,
            user=request.user,
            assigned=assigned,
            compare=request.GET.get("compare"),
            compare_id=request.GET.get("compare_id", "")[:100],
            today=today,
            zone=zone.key,
        )
    )
    # A page of the Plans table: the totals above it count every Plan.
    plan_page = page_of(Paginator(assigned, CAMPAIGN_PLANS_PAGE_SIZE), request.GET.get("ppage"))
    context["plan_page"] = plan_page
    # Each table's pager keeps the page's other parameters (?compare=, the other tables' pages).
    context["pager_query"] = {
        param: _query_without(request.GET, param) for param in ("ppage", "spage", "wpage", "fpage")
    }
    # And choosing a comparison keeps the tables' pages: it changes none of their rows.
    context["pages_kept"] = [
        (param, page.number)
        for param, page in (
            ("ppage", plan_page),
            ("spage", pushes.sent),
            ("wpage", pushes.waiting),
            ("fpage", pushes.failed),
        )
        if page.number > 1
    ]
    return render(request, "campaigns/campaign.html", context)


def _query_without(query: QueryDict, key: str) -> str:
    copy = query.copy()
    copy.pop(key, None)
    return copy.urlencode()


def _csv_safe(value: object) -> object:
    """Keep spreadsheet programs from running a name that starts like a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@login_required
@manager_or_admin_required("Campaign pages are for marketing managers and sync admins.")
def campaign_kpis_csv(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    """The campaign's daily numbers per Plan as CSV, in the Khoros company's days; `timezone`
    names the zone each day was counted in: the company's, or the one it had before a change
    until the KPI sync counts the day again (the campaign page says how many)."""
    campaign = get_object_or_404(ExternalCampaign, pk=pk)
    rows = campaigns_selectors.campaign_kpi_rows(campaign=campaign, user=request.user)
    names = list(campaigns_selectors.KPI_LABELS)
    zone = company_zone().key

    def lines() -> Iterator[list[object]]:
        yield ["date", "external_campaign_id", "plan", *names, "timezone"]
        for row in rows.iterator(chunk_size=1000):
            values = [getattr(row, name) for name in names]
            plan = row.plan
            yield [row.day.isoformat(), plan.khoros_id.hex, _csv_safe(plan.name), *values,
                   row.timezone or zone]  # fmt: skip

    name = file_name_part(campaign.campaign_id) or str(campaign.pk)
    return csv_download(lines(), f"smcbridge-{name}-kpis.csv")


# The id of the campaign page's section of the success push (_campaign_pushes.html): its
# messages are shown there, where the page opens after a settle.
PUSHES_SECTION = "sap-pushes"


@login_required
@require_POST
@sync_admin_required("Only sync admins can settle what the success push sent.")
def push_resolve(request: AuthenticatedHttpRequest, pk: int, entry: int) -> HttpResponse:
    """Settle one success row of unknown outcome, then back to the campaign's page."""
    return _settle(request, pk, [entry])


# At most the rows one page of the Failed table shows.
SETTLE_AT_ONCE = campaigns_selectors.PUSHES_PAGE_SIZE


@login_required
@require_POST
@sync_admin_required("Only sync admins can settle what the success push sent.")
def push_resolve_shown(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Settle every row of unknown outcome the page showed (`entry`), all the same way: one
    failed batch left 31 rows, each a click and a reload of its own."""
    shown = request.POST.getlist("entry")
    if not shown or len(shown) > SETTLE_AT_ONCE or not all(map(is_id, shown)):
        reason = "Settle the rows of unknown outcome the campaign's page lists."
        return render(request, "400.html", {"reason": reason}, status=400)
    return _settle(request, pk, sorted({int(e) for e in shown}))


def _settle(request: AuthenticatedHttpRequest, pk: int, entries: list[int]) -> HttpResponse:
    campaign = get_object_or_404(ExternalCampaign, pk=pk)
    resolution = request.POST.get("resolution", "")
    if resolution not in services.PUSH_RESOLUTIONS:
        reason = "Choose whether the row is in SAP MC (arrived) or not (resend)."
        return render(request, "400.html", {"reason": reason}, status=400)
    events = services.push_outcomes_resolve(
        campaign=campaign, entry_ids=entries, resolution=resolution, acting_user=request.user
    )
    # Shown in the pushes section, where the page opens (the top of the page is out of view).
    settled = [event for event in events if event is not None]
    if len(settled) == 1:
        messages.success(request, settled[0].summary + ".", extra_tags=PUSHES_SECTION)
    elif settled:
        what = (
            "as in SAP MC (never sent again)"
            if resolution == services.PUSH_ARRIVED
            else "as missing in SAP MC (sent next push)"
        )
        messages.success(request, f"Marked {len(settled)} rows {what}.", extra_tags=PUSHES_SECTION)
    if len(settled) < len(events):
        # A second window, or a second admin, was first: settled (or re-sent) already.
        late = len(events) - len(settled)
        text = (
            "That row was settled meanwhile; the page shows it as it is now."
            if late == 1
            else f"{late} of the rows were settled meanwhile; the page shows them as they are now."
        )
        messages.info(request, text, extra_tags=PUSHES_SECTION)
    return redirect(f"{reverse('campaign', args=[campaign.pk])}#{PUSHES_SECTION}")
