"""The KPI sync's work: request or resume, poll, download and write each export a run needs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from khoros import client as khoros_client
from khoros.kinds import KHOROS_KPIS
from khoros.kpi_catalog import EXPORT_KPIS as KPI_NAMES
from khoros.kpis import planning
from khoros.kpis.export_csv import (
    ExportError,
    KpiSums,
    export_fields,
    requested_order,
)
from khoros.kpis.planning import ExportSpec
from khoros.kpis.write import kpis_write
from khoros.models import KpiExport
from khoros.zone import company_zone
from syncs.models import SyncRun
from syncs.runs import (
    COUNT_FIELDS,
    SyncRunner,
    error_text,
    redact,
    run_checkpoint,
    run_finish,
    run_step_done,
    run_stopped,
)

logger = logging.getLogger(__name__)

# Longest wait between two status polls, in seconds.
EXPORT_POLL_CAP = 60.0
# A long download renews the run's lease every so many rows, so that no other run takes it over.
HEARTBEAT_ROWS = 20_000


class DownloadInterruptedError(Exception):
    """A download broke off or was throttled: the export stays complete for the next run."""

    def __init__(self, cause: khoros_client.KhorosError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def sync_khoros_kpis(
    *,
    run: SyncRun | None = None,
    trigger: str = SyncRun.Trigger.COMMAND,
    requested_by: User | None = None,
    client: khoros_client.KhorosClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] | None = None,
    on_progress: Callable[[SyncRun], None] | None = None,
) -> SyncRun:
    """Pull daily KPIs of every live Plan from Khoros analytics; `now` is the clock to wait by."""
    return SyncRunner(KHOROS_KPIS).run(
        run=run,
        trigger=trigger,
        requested_by=requested_by,
        client=client,
        work=lambda run, client: _KpiSync(
            run=run, client=client, sleep=sleep, clock=now or timezone.now, on_progress=on_progress
        ).execute(),
    )


def _describe(exc: khoros_client.KhorosError, *, with_path: bool = True) -> str:
    # The path of a download link can hold its signature: those errors go out without it.
    return redact(error_text(exc, with_path=with_path))


def _khoros_failure(
    outcome: dict[str, Any], exc: khoros_client.KhorosError, *, with_path: bool = True
) -> str | None:
    """Record a Khoros error on an export's outcome; return the status that stops the run."""
    outcome.update(status="failed", error=_describe(exc, with_path=with_path)[:1000])
    if isinstance(exc, khoros_client.KhorosAuthError):
        return SyncRun.Status.FAILED  # every further call would be refused as well
    if isinstance(exc, khoros_client.KhorosRateLimitedError):
        # Like the plan sync: stop cleanly; the next run resumes the open export.
        outcome["status"] = "deferred"
        return SyncRun.Status.DEFERRED
    return None


def _empty_exports(outcomes: list[dict[str, Any]]) -> str:
    """Name the exports read whole without a row while their window holds stored days, if any.

    Such an export changes nothing (a day is never zeroed on nothing), which is right, but a
    run that says "succeeded" would hide that Khoros answered nothing where posts were counted
    before: it ends partial instead. A window without stored days is an ordinary empty answer.
    """
    empty = [o for o in outcomes if o.get("status") == "ok" and not o["rows"] and o["kept"]]
    if not empty:
        return ""
    first = empty[0]
    more = f" and {len(empty) - 1} more" if len(empty) > 1 else ""
    kept = sum(o["kept"] for o in empty)
    return (
        f"The export for {first['start']} to {first['stop']}{more} had no rows; {kept} stored "
        f"{'day was' if kept == 1 else 'days were'} kept."
    )


class _KpiSync:
    """One KPI run: plan the exports, then request or resume, poll, download and write each."""

    def __init__(
        self,
        *,
        run: SyncRun,
        client: khoros_client.KhorosClient,
        sleep: Callable[[float], None],
        clock: Callable[[], datetime],
        on_progress: Callable[[SyncRun], None] | None,
    ) -> None:
        self.run = run
        self.client = client
        self.sleep = sleep
        self.clock = clock
        self.on_progress = on_progress
        self.kpi_fields: dict[str, int] = dict(settings.KHOROS_KPI_FIELDS)
        # Everything an export asks for, placing columns included: an export asked with other
        # ids has other columns, so it is neither resumed nor counted as this history.
        self.fields: dict[str, int] = export_fields(self.kpi_fields)
        self.max_wait = float(settings.KHOROS_EXPORT_MAX_WAIT_SECONDS)
        self.poll_base = float(settings.KHOROS_EXPORT_POLL_BASE)
        self.zone = ZoneInfo("UTC")
        self._catalogue: dict[int, str] | None = None
        self._sums: KpiSums | None = None  # the export being read, for its counts on failure

    # --- The run ---------------------------------------------------------------------------

    def execute(self) -> SyncRun:
        run = self.run
        unknown = sorted(set(self.kpi_fields) - set(KPI_NAMES))
        if not self.kpi_fields or unknown:
            return run_finish(
                run, SyncRun.Status.FAILED, f"KHOROS_KPI_FIELDS is invalid: {unknown or 'empty'}"
            )
        try:
            self.client.check_company()
        except khoros_client.KhorosError as exc:
            return run_stopped(
                run, self.client.stats, f"Could not reach Khoros: {_describe(exc)}",
                throttled=isinstance(exc, khoros_client.KhorosRateLimitedError),
            )  # fmt: skip
        # The stored zone, never /v2/whoami's: the Plan sync alone learns a new zone, storing
        # it and moving the Plans' days in one transaction. Days counted in a zone Khoros just
        # started to report would disagree with the Plans' days, "today" and SAP MC's answers
        # until the next Plan sync; once it switched, this sync pulls every history again.
        self.zone = company_zone()

        jobs = planning.plan_jobs(
            zone=self.zone, fields=self.fields, now=self.clock(), run_pk=run.pk
        )
        run.progress_total = len(jobs)
        run.outcomes = []
        run_checkpoint(run, self.client.stats, ["progress_total", "outcomes"])

        first_error = ""
        failed_exports = 0
        stop_status: str | None = None
        for spec, export in jobs:
            outcome: dict[str, Any] = {
                "kind": "history" if spec.full_history else "trailing",
                "start": spec.start.isoformat(),
                "stop": spec.stop.isoformat(),
                "plans": len(spec.plans),
            }
            if stop_status is not None:
                outcome["status"] = "not_run"
                run.outcomes.append(outcome)
                continue
            try:
                self._export_one(spec, export, outcome)
            except ExportError as exc:
                message = redact(str(exc))
                if outcome.get("rows"):
                    message += f" ({outcome['rows']} rows read, none written)"
                outcome.update(status="failed", error=message[:1000])
            except DownloadInterruptedError as exc:
                stop_status = _khoros_failure(outcome, exc.cause, with_path=False)
                if outcome.get("rows"):
                    outcome["error"] += f" ({outcome['rows']} rows read, none written)"
            except khoros_client.KhorosError as exc:
                stop_status = _khoros_failure(outcome, exc)
            if outcome["status"] != "ok":
                failed_exports += 1
                label = outcome.get("export") or "request"
                first_error = first_error or f"Export {label}: {outcome['error']}"
            run.outcomes.append(outcome)
            run_step_done(run, self.client.stats)
            if self.on_progress is not None:
                self.on_progress(run)

        if not jobs:
            run_checkpoint(run, self.client.stats, COUNT_FIELDS)
        if stop_status is not None:
            return run_finish(run, stop_status, first_error)
        empty = _empty_exports(run.outcomes)
        if failed_exports:
            status = SyncRun.Status.PARTIAL if failed_exports < len(jobs) else SyncRun.Status.FAILED
            return run_finish(
                run,
                status,
                f"{failed_exports} of {len(jobs)} exports failed; their KPIs were left as they "
                f"were. {first_error}{f' {empty}' if empty else ''}",
            )
        problems: list[str] = []
        if run.failed_count:
            first_bad: dict[str, Any] = next(
                (row for outcome in run.outcomes for row in outcome.get("bad_rows", [])), {}
            )
            problems.append(
                f"{run.failed_count} CSV rows could not be read; the days they belong to kept "
                f"their stored values. First: row {first_bad.get('row')} of plan "
                f"{first_bad.get('plan')}: {first_bad.get('error')}"
            )
        if empty:
            problems.append(empty)
        if problems:
            return run_finish(run, SyncRun.Status.PARTIAL, " ".join(problems))
        return run_finish(run, SyncRun.Status.SUCCEEDED)

    # --- One export ------------------------------------------------------------------------

    def _export_one(
        self, spec: ExportSpec, export: KpiExport | None, outcome: dict[str, Any]
    ) -> None:
        if export is not None:
            outcome["resumed_from_run"] = export.run_id
            export.adopt(self.run)
            logger.info("KPI run #%s resumes export %s", self.run.pk, export.export_id)
            try:
                self._export_process(export, spec, outcome)
                return
            except khoros_client.KhorosNotFoundError:
                # Khoros forgot it (exports do not live forever): ask for a new one right away.
                outcome["lost_export"] = export.export_id
        self._export_process(self._export_request(spec), spec, outcome)

    def _export_process(self, export: KpiExport, spec: ExportSpec, outcome: dict[str, Any]) -> None:
        """Wait for one export, read it and write its sums; checkpointed on the KpiExport."""
        outcome["export"] = export.export_id
        self._sums = None
        try:
            status = self._export_await(export)
            sums = self._export_read(export, spec, status)
            with self.run.leased_write():
                counts = kpis_write(
                    export=export,
                    sums=sums,
                    plan_pks=[p.pk for p in spec.plans],
                    now=timezone.now(),
                )
        except ExportError as exc:
            self._count_lost_rows(outcome)
            self._export_end(export, exc.state, str(exc))
            raise
        except DownloadInterruptedError as exc:
            self._count_lost_rows(outcome)
            # A broken or throttled download leaves the export complete: the next run fetches
            # a fresh link and reads it again instead of asking Khoros for a new export.
            export.interrupted(_describe(exc.cause, with_path=False))
            raise
        except khoros_client.KhorosNotFoundError as exc:
            self._export_end(
                export, KpiExport.State.FAILED, f"Khoros no longer knows this export: {exc}"
            )
            raise
        except khoros_client.KhorosError as exc:
            # A status call failed: the export stays open for the next run, unless it has
            # already waited past the limit (a status that never answers must not pin it).
            waited = (self.clock() - export.requested_at).total_seconds()
            if export.state != KpiExport.State.COMPLETE and waited >= self.max_wait:
                self._export_end(
                    export,
                    KpiExport.State.ABANDONED,
                    f"no usable status {waited:.0f} s after the request: {_describe(exc)}",
                )
            raise
        finally:
            outcome["polls"] = export.polls
        run = self.run
        run.created_count += counts.created
        run.updated_count += counts.updated + counts.zeroed
        run.unchanged_count += counts.unchanged
        run.failed_count += sums.rows_failed
        outcome.update(
            status="ok",
            rows=sums.rows_read,
            rows_summed=sums.rows_read - sums.rows_failed - sums.rows_ignored - sums.rows_repeated,
            rows_failed=sums.rows_failed,
            rows_ignored=sums.rows_ignored,
            rows_repeated=sums.rows_repeated,
            created=counts.created,
            updated=counts.updated,
            unchanged=counts.unchanged,
            zeroed=counts.zeroed,
            kept=counts.kept,
        )
        if sums.bad_rows:
            outcome["bad_rows"] = sums.bad_rows
        notes: list[str] = []
        if sums.rows_repeated:
            notes.append(
                f"{sums.rows_repeated} {'row' if sums.rows_repeated == 1 else 'rows'} repeated "
                f"a post already read, with the same numbers: each post was counted once."
            )
        if not sums.rows_read:
            notes.append("The export had no rows; stored days were kept.")
        elif not sums.verified:
            notes.append(
                "The download could not be proved whole (no MD5 ETag): stored days it does not "
                "report were kept, not zeroed."
            )
        if notes:
            outcome["note"] = " ".join(notes)

    def _export_request(self, spec: ExportSpec) -> KpiExport:
        # Recorded before the POST: should the worker die before the answer, the next run sees
        # that an export may exist on Khoros without an id to poll.
        export = KpiExport.objects.create(
            run=self.run,
            state=KpiExport.State.REQUESTED,
            full_history=spec.full_history,
            start=spec.start,
            stop=spec.stop,
            timezone=self.zone.key,
            plan_ids=spec.plan_ids,
            initiative_ids=spec.initiative_ids,
            field_ids=self.fields,
            requested_at=self.clock(),
        )
        try:
            export_id = self.client.start_export(
                # In this order the columns come back (the spec), and are read by position.
                fields=[field_id for _, field_id in requested_order(self.fields)],
                start=spec.start,
                stop=spec.stop,
                timezone=self.zone.key,
                initiative_ids=spec.initiative_ids,
                plan_ids=spec.plan_ids,
            )
        except khoros_client.KhorosError as exc:
            self._export_end(
                export, KpiExport.State.ABANDONED, f"Khoros refused the request: {_describe(exc)}"
            )
            raise
        export.accepted(export_id)
        return export

    def _export_await(self, export: KpiExport) -> khoros_client.ExportStatus:
        """Poll until Khoros reports the export complete; back off exponentially in between."""
        if export.next_poll_at is not None:
            # A resumed export: keep to the pace the dead run had reached.
            early = (export.next_poll_at - self.clock()).total_seconds()
            if early > 0:
                self.sleep(min(early, EXPORT_POLL_CAP))
        while True:
            status = self.client.export_status(export.export_id)
            moment = self.clock()
            export.polled(status=status.status, at=moment)
            if status.status == "complete":
                return status
            if status.status == "failed":
                raise ExportError(
                    f"Khoros reports export {export.export_id} failed",
                    state=KpiExport.State.FAILED,
                )
            waited = (moment - export.requested_at).total_seconds()
            if waited >= self.max_wait:
                raise ExportError(
                    f"export {export.export_id} was still {status.status} {waited:.0f} s after it "
                    f"was requested (KHOROS_EXPORT_MAX_WAIT_SECONDS={self.max_wait:.0f}); "
                    f"abandoned",
                    state=KpiExport.State.ABANDONED,
                )
            delay = min(
                EXPORT_POLL_CAP,
                self.poll_base * 2 ** min(export.polls - 1, 16),
                self.max_wait - waited,
            )
            export.wait_until(moment + timedelta(seconds=delay))
            self._heartbeat()
            self.sleep(delay)

    def _export_read(
        self, export: KpiExport, spec: ExportSpec, status: khoros_client.ExportStatus
    ) -> KpiSums:
        """Stream the export's CSV into per-day sums; a refused link is renewed once."""
        sums = KpiSums(
            plans={str(plan.khoros_id): plan.pk for plan in spec.plans},
            zone=ZoneInfo(export.timezone),
            start=export.start,
            stop=export.stop,
            field_ids=export.field_ids,
            catalogue=self._field_catalogue,
        )
        self._sums = sums
        table = self._download(export, status)
        try:
            # The header is checked before any row is taken: a page that is no export of ours
            # (an error text, another layout) fails here instead of reading as "no rows".
            sums.read_header(table.header)
            for _line, cells in table:
                sums.add_cells(cells)
                if sums.rows_read % HEARTBEAT_ROWS == 0:
                    self._heartbeat()
        except khoros_client.KhorosUnavailableError as exc:
            raise DownloadInterruptedError(exc) from None
        except khoros_client.KhorosBadPayloadError as exc:
            # The file itself is broken (not a row of it): a second read would not help.
            raise ExportError(
                f"the export CSV cannot be read: {_describe(exc, with_path=False)}",
                state=KpiExport.State.FAILED,
            ) from None
        finally:
            table.close()  # a table left early still holds the HTTP connection
        sums.verified = table.verified
        return sums

    def _count_lost_rows(self, outcome: dict[str, Any]) -> None:
        """Rows read from an export that then failed are all lost to this run: count them."""
        sums, self._sums = self._sums, None
        if sums is not None and sums.rows_read:
            outcome.update(rows=sums.rows_read, rows_failed=sums.rows_read)
            self.run.failed_count += sums.rows_read

    def _download(
        self, export: KpiExport, status: khoros_client.ExportStatus
    ) -> khoros_client.ExportTable:
        for attempt in (1, 2):
            if status.url is None:
                raise ExportError(
                    f"export {export.export_id} has no download link", state=KpiExport.State.FAILED
                )
            try:
                return self.client.download_table(status.url)
            except khoros_client.KhorosLinkExpiredError as exc:
                if attempt == 2:
                    raise ExportError(
                        f"the download link of export {export.export_id} was refused again "
                        f"after a fresh status call: {exc}",
                        state=KpiExport.State.EXPIRED,
                    ) from None
                logger.info("export %s: link refused, asking for a fresh one", export.export_id)
            except (
                khoros_client.KhorosUnavailableError,
                khoros_client.KhorosRateLimitedError,
            ) as exc:
                raise DownloadInterruptedError(exc) from None
            except khoros_client.KhorosDownloadRefusedError as exc:
                # A link to an address inside the network: nothing was sent to it.
                raise ExportError(
                    f"the download link was refused: {_describe(exc, with_path=False)}",
                    state=KpiExport.State.FAILED,
                ) from None
            except khoros_client.KhorosBadPayloadError as exc:
                # Status 200 with a body that is no CSV (empty, an HTML page, JSON): a failure,
                # never "no rows"; the export's history stays to be fetched.
                raise ExportError(
                    f"the download is not an export CSV: {_describe(exc, with_path=False)}",
                    state=KpiExport.State.FAILED,
                ) from None
            except khoros_client.KhorosError as exc:
                raise ExportError(
                    f"the download was refused: {_describe(exc, with_path=False)}",
                    state=KpiExport.State.FAILED,
                ) from None
            # The pre-signed link lives only so long: a status call hands out a fresh one.
            status = self.client.export_status(export.export_id)
            export.link_renewed(at=self.clock())
            if status.status != "complete":
                raise ExportError(
                    f"export {export.export_id} is {status.status} again after its link expired",
                    state=KpiExport.State.FAILED,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _export_end(self, export: KpiExport, state: str, error: str) -> None:
        export.end(state, redact(error), now=timezone.now())

    def _field_catalogue(self) -> dict[int, str]:
        """The names of the export fields, read once per run; empty if Khoros will not say."""
        if self._catalogue is None:
            try:
                self._catalogue = dict(self.client.export_fields())
            except (khoros_client.KhorosAuthError, khoros_client.KhorosRateLimitedError):
                raise
            except khoros_client.KhorosError as exc:
                # The spec's only example is text/plain "Coming Soon": names are a cross-check
                # of the columns read by position, never a reason to lose an export.
                logger.warning(
                    "Khoros export field catalogue unavailable (%s); reading columns by "
                    "position and by id",
                    type(exc).__name__,
                )
                self._catalogue = {}
        return self._catalogue

    def _heartbeat(self) -> None:
        # Saved with a heartbeat at once, in one statement: a long export wait keeps the lease.
        run_checkpoint(self.run, self.client.stats, [], heartbeat=True)
