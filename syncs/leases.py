"""Single flight for syncs: one lease row per kind, held by at most one run.

The functions live beside the models they update (syncs/models.py), so that SyncRun's methods
call them without an import running back; this module is their public name.
"""

from __future__ import annotations

from syncs.models import (
    lease_acquire,
    lease_free_if_expired,
    lease_is_live,
    lease_release,
    lease_renew,
)

__all__ = [
    "lease_acquire",
    "lease_free_if_expired",
    "lease_is_live",
    "lease_release",
    "lease_renew",
]
