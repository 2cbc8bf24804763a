"""Reads of a marketing manager's home page: what needs her attention this fortnight."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns.access import granted_initiative_ids, visible_plans
from campaigns.calendar import day_begins, plan_days
from campaigns.models import Assignment, AuditEvent
from campaigns.selectors import drift_flags
from khoros.models import Initiative, Plan, PlanKpi
from khoros.zone import company_today, company_zone
from sapmc.models import CampaignReference, ExternalCampaign

# How far the home page looks: campaigns starting this soon, Plans ending this recently.
HOME_DAYS = 14
HOME_ROWS = 20
# Drift is checked on at most this many of her campaigns (the most recent ones by start).
HOME_DRIFT_CANDIDATES = 200


@dataclass
class ManagerHome:
    starting_empty: list[ExternalCampaign] = field(default_factory=list)
    drifting: list[ExternalCampaign] = field(default_factory=list)
    ending_without_kpis: list[Plan] = field(default_factory=list)
    changes_by_others: list[AuditEvent] = field(default_factory=list)
    # Her own adoptions of SAP MC's side not undone: the workbench offers Undo right after one
    # only, and the audit page where a sync admin undoes is not hers.
    adoptions: list[AuditEvent] = field(default_factory=list)
    days: int = HOME_DAYS


def manager_home(*, user: User) -> ManagerHome:
    """Her four lists in a fixed number of queries, whatever the size of the mirror.

    "Hers" means the Initiatives granted to her: a campaign is hers when SAP MC names one of them
    as its managing party or when it is fed by one of their Plans.
    """
    # The company's days, as the Plans' and campaigns': the same lists whatever her zone.
    zone = company_zone()
    today = company_today(zone)
    granted = granted_initiative_ids(user)
    initiatives = (
        Initiative.objects.all() if granted is None else Initiative.objects.filter(pk__in=granted)
    )
    plans = visible_plans(user)
    hers = Q(
        pk__in=CampaignReference.objects.filter(
            managing_party__in=initiatives.values("khoros_id")
        ).values("campaign_id")
    ) | Q(pk__in=Assignment.objects.filter(plan__in=plans).values("campaign_id"))
    live = ExternalCampaign.objects.filter(removed_at__isnull=True)

    # Starting soon with nothing feeding it: hers, or nobody's yet (SAP MC names no Initiative).
    unclaimed = ~Exists(
        CampaignReference.objects.filter(campaign=OuterRef("pk")).exclude(managing_party="")
    )
    starting_empty = list(
        live.filter(start__gte=today, start__lte=today + timedelta(days=HOME_DAYS))
        .filter(hers | Q(unclaimed))
        .exclude(Exists(Assignment.objects.filter(campaign=OuterRef("pk"))))
        .order_by("start", "name", "pk")[:HOME_ROWS]
    )

    candidates = list(live.filter(hers).order_by("-start", "pk")[:HOME_DRIFT_CANDIDATES])
    flags = drift_flags(campaigns=candidates, user=user)
    drifting = sorted(
        (c for c in candidates if flags.get(c.pk)),
        key=lambda c: (c.start is None, c.start, c.name),
    )[:HOME_ROWS]

    ending = list(
        # The company's days as instants: the stored times compared as they are, not converted
        # row by row.
        plans.filter(
            removed_at__isnull=True,
            end__gte=day_begins(today - timedelta(days=HOME_DAYS), zone),
            end__lt=day_begins(today + timedelta(days=HOME_DAYS + 1), zone),
            start__lt=day_begins(today + timedelta(days=1), zone),
        )
        .exclude(Exists(PlanKpi.objects.filter(plan=OuterRef("pk"))))
        .select_related("initiative", "assignment__campaign")
        .order_by("end", "name", "pk")[:HOME_ROWS]
    )
    for plan in ending:
        # The page says the company's days, never the viewer's day of the stored instants (a
        # Chicago Plan ending on 31 March ends at 06:59 on 1 April in Berlin); worked out here,
        # and never saved, for a Plan mirrored before its days were stored.
        plan.start_day, plan.end_day = plan_days(plan)

    # A row about one Plan is hers only when the Plan is: another Initiative's Plan assigned to a
    # campaign she shares is not her change, and its summary names a Plan she may not see.
    recent = (
        AuditEvent.objects.filter(at__gte=timezone.now() - timedelta(days=HOME_DAYS))
        .exclude(actor=user)
        .select_related("campaign", "plan")
        .order_by("-at", "-id")
    )
    changes = list(recent.filter(plan__in=plans)[:HOME_ROWS])
    changes += _decisions_of_hers(
        recent.filter(plan__isnull=True, campaign__in=ExternalCampaign.objects.filter(hers)),
        plans,
    )
    changes.sort(key=lambda e: (e.at, e.pk), reverse=True)
    return ManagerHome(
        starting_empty=starting_empty,
        drifting=drifting,
        ending_without_kpis=ending,
        changes_by_others=changes[:HOME_ROWS],
        adoptions=_adoptions_not_undone(user),
    )


def _adoptions_not_undone(user: User) -> list[AuditEvent]:
    """Her adoptions of SAP MC's side in the last days, newest first, without those undone."""
    adoptions = list(
        AuditEvent.objects.filter(
            actor=user,
            action=AuditEvent.Action.DRIFT_ADOPT_SAP,
            at__gte=timezone.now() - timedelta(days=HOME_DAYS),
        )
        .select_related("campaign")
        .order_by("-at", "-id")[:HOME_ROWS]
    )
    if not adoptions:
        return []
    undone = set(
        AuditEvent.objects.filter(
            action=AuditEvent.Action.DRIFT_UNDO,
            before__undoes__in=[event.pk for event in adoptions],
        ).values_list("before__undoes", flat=True)
    )
    return [event for event in adoptions if event.pk not in undone]


def _decisions_of_hers(rows: QuerySet[AuditEvent], plans: QuerySet[Plan]) -> list[AuditEvent]:
    """The rows of a whole campaign (a drift decision on several Plans, or its undo) that took
    one of her Plans along; their Plans are read only when there are such rows.

    The Plans are in the row's JSON, not its key: a decision of another Initiative's manager on
    his own Plans named none of them, but told her that they had differed from SAP MC, and when
    and what he decided. A row that lists no Plans (the services write none so) names none and
    stays.
    """
    found = list(rows)
    listed = {event.pk: _plan_ids(event) for event in found}
    ids = {khoros_id for ids in listed.values() if ids for khoros_id in ids}
    hers = set(plans.filter(khoros_id__in=sorted(ids)).values_list("khoros_id", flat=True))
    return [e for e in found if (ids_of := listed[e.pk]) is None or ids_of & hers]


def _plan_ids(event: AuditEvent) -> set[uuid.UUID] | None:
    """The Khoros ids of the Plans an audit row of a drift decision lists, or None."""
    entries = event.before.get("plans") if isinstance(event.before, dict) else None
    if not isinstance(entries, list):
        return None
    ids = set()
    for entry in entries:
        try:
            ids.add(uuid.UUID(str(entry["plan"])))
        except (TypeError, KeyError, ValueError):
            continue  # not a Plan's id: nothing of hers
    return ids
