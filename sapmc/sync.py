"""The SAP MC campaign sync: mirror the Khoros-category campaigns and the references SAP holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from khoros.models import Plan
from sapmc import client as sapmc
from sapmc.kinds import SAPMC_CAMPAIGNS
from sapmc.models import CampaignReference, ExternalCampaign
from syncs import runs, upsert
from syncs.models import SyncRun
from syncs.upsert import fit

# Campaigns are written in chunks, each in its own transaction and checkpoint.
CHUNK = 500

CAMPAIGN_FIELDS = (
    "campaign_id",
    "name",
    "description",
    "start",
    "end",
    "lifecycle_status",
    "lifecycle_status_name",
    "category",
    "marketing_area",
    "owner",
    "sap_changed",
)


@runs.sync_entry(SAPMC_CAMPAIGNS)
def sync_sapmc_campaigns(
    run: SyncRun, client: sapmc.SapmcClient, on_progress: Callable[[SyncRun], None] | None
) -> SyncRun:
    """Mirror SAP MC's external campaigns of the Khoros category; never deletes one."""
    try:
        # The whole listing first: removal is only decided on a complete one.
        listing = client.list_campaigns(category=settings.SAPMC_CAMPAIGN_CATEGORY)
    except sapmc.SapmcError as exc:
        return runs.run_stopped(
            run, client.stats, f"Could not list SAP MC campaigns: {runs.error_text(exc)}",
            throttled=isinstance(exc, sapmc.SapmcRateLimitedError),
        )  # fmt: skip

    fetched = listing.campaigns
    run.progress_total = len(fetched)
    run.outcomes = []
    runs.run_checkpoint(run, client.stats, ["progress_total", "outcomes"])
    for offset in range(0, len(fetched), CHUNK):
        chunk = fetched[offset : offset + CHUNK]
        counts = campaigns_upsert(fetched=chunk, now=timezone.now(), run=run)
        run.created_count += counts["created"]
        run.updated_count += counts["updated"]
        run.unchanged_count += counts["unchanged"]
        run.outcomes.append({"chunk": offset // CHUNK + 1, "status": "ok", **counts})
        runs.run_step_done(run, client.stats, steps=len(chunk))
        if on_progress is not None:
            on_progress(run)

    if not listing.complete:
        # What was read is stored; what was not read proves nothing. Marking the unread
        # campaigns removed would detach live SAP MC campaigns from their Plans.
        run.outcomes.append(
            {
                "listing": "incomplete",
                "read": len(fetched),
                "sap_count": listing.count,
                "duplicates": listing.duplicates,
                "problems": listing.problems[:20],
            }
        )
        runs.run_checkpoint(run, client.stats, [*runs.COUNT_FIELDS, "outcomes"])
        return runs.run_finish(
            run,
            _incomplete_status(listing),
            f"The SAP MC campaign listing was incomplete ({listing.problem_text()}): "
            f"{len(fetched)} campaigns read and stored"
            + (f" of the {listing.count} SAP MC counted" if listing.count is not None else "")
            + "; none marked removed this run.",
        )
    seen = {UUID(c.uuid) for c in fetched}
    vanished = [
        pk
        for pk, sap_uuid in ExternalCampaign.objects.filter(removed_at__isnull=True).values_list(
            "pk", "sap_uuid"
        )
        if sap_uuid not in seen
    ]
    if vanished:
        # Marked, never deleted: assignments and the audit trail keep pointing at it.
        run.removed_count = ExternalCampaign.objects.filter(pk__in=vanished).update(
            removed_at=timezone.now()
        )
    runs.run_checkpoint(run, client.stats, runs.COUNT_FIELDS)
    return runs.run_finish(run, SyncRun.Status.SUCCEEDED)


def _incomplete_status(listing: sapmc.CampaignListing) -> str:
    """Return the status of a run whose listing was incomplete: partial, as a rule."""
    # The same ends as a first page that fails (runs.run_stopped) and as the Khoros Plan sync
    # stopped mid-run: a refused user is a failure that needs a person (and counts towards the
    # alert), a throttled API a deferral. Either way the pages read before it were stored.
    stopped = listing.stopped_by
    if isinstance(stopped, sapmc.SapmcAuthError):
        return SyncRun.Status.FAILED
    if isinstance(stopped, sapmc.SapmcRateLimitedError):
        return SyncRun.Status.DEFERRED
    return SyncRun.Status.PARTIAL


def _campaign_values(item: sapmc.Campaign) -> dict[str, object]:
    return {
        "campaign_id": fit(ExternalCampaign, "campaign_id", item.campaign_id),
        "name": fit(ExternalCampaign, "name", item.name),
        "description": item.description,
        "start": item.start,
        "end": item.end,
        "lifecycle_status": fit(ExternalCampaign, "lifecycle_status", item.lifecycle_status),
        "lifecycle_status_name": fit(
            ExternalCampaign, "lifecycle_status_name", item.lifecycle_status_name
        ),
        "category": fit(ExternalCampaign, "category", item.category),
        "marketing_area": fit(ExternalCampaign, "marketing_area", item.marketing_area),
        "owner": fit(ExternalCampaign, "owner", item.owner),
        "sap_changed": item.changed,
    }


def _plan_uuid(external_campaign_id: str) -> UUID | None:
    """ExternalCampaignID is a Plan UUID without hyphens; anything else references no Plan."""
    try:
        return UUID(hex=external_campaign_id)
    except ValueError:
        return None


def campaigns_upsert(
    *, fetched: list[sapmc.Campaign], now: datetime, run: SyncRun | None = None
) -> dict[str, int]:
    """Mirror one chunk of campaigns and their references in one transaction."""
    incoming = {UUID(c.uuid): c for c in fetched}
    existing = {c.sap_uuid: c for c in ExternalCampaign.objects.filter(sap_uuid__in=list(incoming))}
    plan_uuids = {
        u for c in fetched for r in c.references if (u := _plan_uuid(r.external_campaign_id))
    }
    plans = dict(Plan.objects.filter(khoros_id__in=list(plan_uuids)).values_list("khoros_id", "pk"))
    refs_now: dict[int, set[tuple]] = {}
    for ref in CampaignReference.objects.filter(campaign__sap_uuid__in=list(incoming)):
        refs_now.setdefault(ref.campaign_id, set()).add(_ref_key_row(ref))

    created: list[ExternalCampaign] = []
    changed: list[ExternalCampaign] = []
    touched: list[ExternalCampaign] = []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    ref_rows: dict[UUID, list[CampaignReference]] = {}
    for key, item in incoming.items():
        values = _campaign_values(item)
        refs = [_reference(r, plans) for r in item.references]
        ref_rows[key] = refs
        row = existing.get(key)
        if row is None:
            created.append(
                ExternalCampaign(
                    sap_uuid=key, raw=item.raw, first_seen=now, last_seen=now, **values
                )
            )
            counts["created"] += 1
            continue
        refs_differ = {_ref_key_row(r) for r in refs} != refs_now.get(row.pk, set())
        outcome = upsert.mirror_row(
            row, values, now=now, extra={"raw": item.raw}, differs=refs_differ
        )
        if outcome == upsert.CHANGED:
            changed.append(row)
            counts["updated"] += 1
        else:
            if outcome == upsert.TOUCHED:
                touched.append(row)  # seen again: last_seen moves, nothing else is written
            counts["unchanged"] += 1
            ref_rows.pop(key)  # nothing to rewrite
    if not (created or changed or touched):
        return counts
    # Under the run's lease when there is one: a run taken over writes nothing.
    with run.leased_write() if run is not None else transaction.atomic():
        upsert.mirror_write(
            ExternalCampaign, CAMPAIGN_FIELDS, created=created, changed=changed, touched=touched
        )
        rewrite = {c.sap_uuid: c for c in [*created, *changed]}
        # References belong to SAP MC: their set is replaced as a whole, per campaign.
        CampaignReference.objects.filter(campaign__in=[c.pk for c in changed]).delete()
        new_refs = []
        for key, campaign in rewrite.items():
            for ref in ref_rows.get(key, []):
                ref.campaign = campaign
                new_refs.append(ref)
        # No conflict to ignore: the parser refuses a reference that appears twice, and one
        # ignored would be a reference SAP MC holds missing here, the campaign "updated" forever.
        CampaignReference.objects.bulk_create(new_refs, batch_size=500)
    return counts


def _reference(ref: sapmc.CampaignReference, plans: dict[UUID, int]) -> CampaignReference:
    plan_uuid = _plan_uuid(ref.external_campaign_id)
    return CampaignReference(
        external_campaign_id=fit(
            CampaignReference, "external_campaign_id", ref.external_campaign_id
        ),
        external_campaign_uuid=fit(
            CampaignReference, "external_campaign_uuid", ref.external_campaign_uuid
        ),
        name=fit(CampaignReference, "name", ref.name),
        advertiser=fit(CampaignReference, "advertiser", ref.advertiser),
        managing_party=fit(CampaignReference, "managing_party", ref.managing_party),
        plan_id=plans.get(plan_uuid) if plan_uuid else None,
    )


def _ref_key_row(ref: CampaignReference) -> tuple:
    return (
        ref.external_campaign_id,
        ref.external_campaign_uuid,
        ref.name,
        ref.advertiser,
        ref.managing_party,
        ref.plan_id,
    )
