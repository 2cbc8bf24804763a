"""Mirrors of Khoros objects and the KPI exports a sync asked for."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import models

from smcbridge.fields import is_shortened, strip_bidi_controls
from smcbridge.names import is_blank, shown_name

if TYPE_CHECKING:
    from syncs.models import SyncRun


class Initiative(models.Model):
    """A Khoros Initiative: groups Plans and decides which managers see them."""

    khoros_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    # The digest of the Plan pages last mirrored in full and the oldest last_seen it left: a
    # sync that reads the same pages again, sooner than a last_seen refresh is due, has nothing
    # to compare or write (issue 13). Empty whenever the mirror may differ from those pages.
    plans_digest = models.CharField(max_length=64, blank=True, default="", db_default="")
    plans_checked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "khoros_id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name as pages show it: a blank one as "(no name) · <Khoros id>"."""
        return shown_name(self.name, self.khoros_id)


class Plan(models.Model):
    """A Khoros Plan, the counterpart of an SAP MC external campaign. Never deleted."""

    khoros_id = models.UUIDField(unique=True)
    initiative = models.ForeignKey(Initiative, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=255)
    color = models.CharField(max_length=16, blank=True)
    start = models.DateTimeField()
    # Inclusive: Khoros sends the last millisecond of the Plan's last local day.
    end = models.DateTimeField()
    # The first and last (inclusive) calendar day in the Khoros company time zone.
    start_day = models.DateField(null=True, blank=True)
    end_day = models.DateField(null=True, blank=True)
    overview = models.TextField(blank=True)
    objective = models.TextField(blank=True)
    target_audience = models.TextField(blank=True)
    khoros_created = models.DateTimeField(null=True, blank=True)
    khoros_modified = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "name"]
        indexes = [
            models.Index(fields=["initiative", "start"]),
            models.Index(fields=["start_day", "end_day"]),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name as pages show it: a blank one as "(no name) · <Khoros id>", the id as the
        workbench shows it and SAP MC's references hold it (ExternalCampaignID), searchable."""
        return shown_name(self.name, self.khoros_id.hex)

    @property
    def search_term(self) -> str:
        """What the workbench's Plan search finds it by: its name, or its Khoros id when it has
        none (a blank search finds every Plan)."""
        return self.khoros_id.hex if is_blank(self.name) else self.name

    @property
    def name_shortened(self) -> bool:
        """Whether Khoros sent a longer name than the column holds (the whole one is in raw)."""
        return is_shortened(self.raw.get("name") if isinstance(self.raw, dict) else None, self.name)

    @property
    def full_name(self) -> str:
        full = self.raw.get("name") if isinstance(self.raw, dict) else None
        return (
            strip_bidi_controls(full)
            if isinstance(full, str) and self.name_shortened
            else self.name
        )


class PlanKpi(models.Model):
    """Daily totals of one Plan's published posts, as the Khoros analytics export reports them."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="kpis")
    # A calendar day in the Khoros company time zone (KHOROS_COMPANY_TIMEZONE, or the API user's):
    # the zone the Plans' own start_day and end_day are in, so a Plan's days and its KPIs agree.
    day = models.DateField()
    # The zone `day` is a day of: the zone of the export that counted it. After the company's
    # zone changes, days not counted again yet are the old zone's, and cannot be moved to the
    # new one without the posts' times: the success push and SAP MC's answers leave them out
    # (counted) until the KPI sync pulls them again. Blank: written before zones were recorded,
    # with no export to name one (taken as the company's).
    timezone = models.CharField(max_length=64, blank=True, default="", db_default="")
    impressions = models.PositiveBigIntegerField(default=0)
    engagements = models.PositiveBigIntegerField(default=0)
    clicks = models.PositiveBigIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    video_views = models.PositiveBigIntegerField(default=0)
    posts = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["plan", "day"]
        constraints = [
            # The upsert's conflict target: one row per Plan and day, whatever the re-pulls.
            models.UniqueConstraint(fields=["plan", "day"], name="khoros_plankpi_plan_day")
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.day}"

    @staticmethod
    def counted_elsewhere(day_zone: str, zone: str) -> bool:
        """Whether a day stored with `day_zone` is a day of another zone than `zone` (a blank
        one, stored before zones were recorded, counts as `zone`'s)."""
        return bool(day_zone) and day_zone != zone

    @staticmethod
    def counted_elsewhere_q(zone: str) -> models.Q:
        """counted_elsewhere() in SQL."""
        return ~models.Q(timezone__in=["", zone])


class KpiExport(models.Model):
    """One Khoros analytics export a KPI sync asked for, kept so that a restart resumes it."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"  # POST sent, no export id yet
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"  # Khoros finished it; not downloaded yet
        DOWNLOADED = "downloaded", "Downloaded"  # read to the end and written
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Link expired"
        ABANDONED = "abandoned", "Abandoned"

    # States a later run picks up instead of asking Khoros for a new export.
    RESUMABLE = (State.PENDING, State.RUNNING, State.COMPLETE)

    export_id = models.CharField(max_length=64, blank=True)
    run = models.ForeignKey(
        "syncs.SyncRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="kpi_exports",
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED)
    # True: the whole history of Plans never pulled before; False: the trailing re-pull window.
    full_history = models.BooleanField(default=False)
    start = models.DateField()  # inclusive
    stop = models.DateField()  # exclusive, as Khoros takes it
    timezone = models.CharField(max_length=64)
    plan_ids = models.JSONField(default=list)  # Khoros Plan UUIDs, sorted
    initiative_ids = models.JSONField(default=list)
    # Our KPI names and "post_id"/"plan"/"published" -> Khoros field ids, as requested.
    field_ids = models.JSONField(default=dict)
    # The pre-signed download link is not stored: it is a credential until it expires, and a
    # fresh one is one status call away.
    requested_at = models.DateTimeField()
    last_polled_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveBigIntegerField(default=0)
    rows_failed = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        # export_id is not unique here: a Khoros (or simulator) that starts counting again
        # must not make the bridge crash on a log of past exports.
        indexes = [
            models.Index(fields=["state", "requested_at"]),
            # The last downloaded export (khoros.selectors.kpi_last_success, on every campaign
            # page): read from the end of this index, not by sorting every export.
            models.Index(fields=["state", "finished_at", "id"], name="khoros_kpiexport_finished"),
        ]

    def __str__(self) -> str:
        return f"Khoros export {self.export_id or '(requested)'} ({self.state})"

    # --- State changes: the only places an export's state moves ------------------------------

    @classmethod
    def abandon_unanswered(cls, *, now: datetime) -> int:
        """Close the exports whose request never got an answer: there is no id to poll."""
        return cls.objects.filter(state=cls.State.REQUESTED).update(
            state=cls.State.ABANDONED,
            finished_at=now,
            error="The run stopped before Khoros answered the export request.",
        )

    def adopt(self, run: SyncRun) -> None:
        """A later run resumes this export."""
        self.run = run
        self.save(update_fields=["run"])

    def accepted(self, export_id: str) -> None:
        """Khoros answered the request with the export's id."""
        self.export_id = export_id
        self.state = self.State.PENDING
        self.save(update_fields=["export_id", "state"])

    def polled(self, *, status: str, at: datetime) -> None:
        """Count one status poll; saved at once when complete, else by wait_until() or end().

        Only "complete" is documented: any other state but "failed" counts as not finished yet.
        """
        self.polls += 1
        self.last_polled_at = at
        self.next_poll_at = None
        if status == "complete":
            self.state = self.State.COMPLETE
            self.save(update_fields=["polls", "last_polled_at", "next_poll_at", "state"])
        elif status != "failed":
            self.state = self.State.RUNNING if status == "running" else self.State.PENDING

    def wait_until(self, moment: datetime) -> None:
        """Save the poll just counted and when the next one is due (a resumed run keeps pace)."""
        self.next_poll_at = moment
        self.save(update_fields=["polls", "last_polled_at", "next_poll_at", "state"])

    def link_renewed(self, *, at: datetime) -> None:
        """A status call made only for a fresh download link."""
        self.polls += 1
        self.last_polled_at = at
        self.save(update_fields=["polls", "last_polled_at"])

    def interrupted(self, error: str) -> None:
        """The download broke off: the export stays complete for the next run to read again."""
        self.error = error
        self.save(update_fields=["error", "polls", "last_polled_at"])

    def downloaded(self, *, rows_read: int, rows_failed: int, at: datetime) -> None:
        """Read to the end and written (called inside the transaction that writes the sums)."""
        self.state = self.State.DOWNLOADED
        self.rows_read = rows_read
        self.rows_failed = rows_failed
        self.finished_at = at
        self.error = ""
        self.save(update_fields=["state", "rows_read", "rows_failed", "finished_at", "error"])

    def end(
        self,
        state: str,
        error: str,
        *,
        now: datetime,
        update_fields: tuple[str, ...] | list[str] = (
            "state",
            "error",
            "finished_at",
            "polls",
            "last_polled_at",
        ),
    ) -> None:
        """Close the export without data (failed, expired, abandoned); `error` is already safe."""
        self.state = state
        self.error = error[:4000]
        self.finished_at = now
        self.save(update_fields=list(update_fields))


class Company(models.Model):
    """A Khoros company the token can reach, as /v2/me lists it: SAP MC's ADVERTISER values."""

    khoros_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=255)
    # The zone its days are counted in, as the last Plan sync learned it: SAP MC's calls are
    # answered from the database and must not ask Khoros for it.
    timezone = models.CharField(max_length=64, blank=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["name", "khoros_id"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name
