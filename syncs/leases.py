"""Single flight for syncs: one lease row per kind, held by at most one run."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from syncs.models import SyncLease, SyncRun


def _ttl() -> timedelta:
    return timedelta(seconds=settings.SYNC_LEASE_SECONDS)


def lease_acquire(*, run: SyncRun) -> tuple[bool, SyncRun | None]:
    """Take the kind's lease for `run`; return (acquired, the run it was taken from or held by)."""
    try:
        with transaction.atomic():
            SyncLease.objects.get_or_create(kind=run.kind)
    except IntegrityError:
        pass  # Another process created the row first: it exists now, which is all we need.
    now = timezone.now()
    previous = SyncLease.objects.filter(kind=run.kind).values_list("run_id", flat=True).first()
    # One conditional UPDATE decides the race: the database serialises it on every backend.
    # The run itself may re-take its lease: that is a django-q2 retry after its worker died.
    taken = SyncLease.objects.filter(
        Q(run__isnull=True) | Q(expires_at__lt=now) | Q(run=run), kind=run.kind
    ).update(run=run, expires_at=now + _ttl())
    previous_run = SyncRun.objects.filter(pk=previous).first() if previous else None
    if taken:
        return True, previous_run if previous != run.pk else None
    holder = SyncLease.objects.filter(kind=run.kind).values_list("run_id", flat=True).first()
    return False, SyncRun.objects.filter(pk=holder).first() if holder else None


def lease_renew(*, run: SyncRun) -> bool:
    """Push the lease's expiry forward; False means another run has taken it over."""
    return bool(
        SyncLease.objects.filter(kind=run.kind, run=run).update(expires_at=timezone.now() + _ttl())
    )


def lease_release(*, run: SyncRun) -> None:
    """Give the lease back, if this run still holds it."""
    SyncLease.objects.filter(kind=run.kind, run=run).update(run=None, expires_at=None)


def lease_free_if_expired(*, run: SyncRun) -> bool:
    """Take an expired lease away from `run`; True when it held one: its worker is gone.

    A conditional UPDATE like lease_acquire's decides: a worker that was only slow loses the
    lease at its next renewal (and stops) instead of writing beside the run that takes over.
    """
    return bool(
        SyncLease.objects.filter(kind=run.kind, run=run, expires_at__lt=timezone.now()).update(
            run=None, expires_at=None
        )
    )


def lease_is_live(*, run: SyncRun) -> bool:
    """Whether `run` holds its kind's lease and the lease has not expired: its worker is alive."""
    return SyncLease.objects.filter(kind=run.kind, run=run, expires_at__gte=timezone.now()).exists()
