"""The sync run models wherever this checkout keeps them (imported after django.setup()).

The sync engine moved SyncRun and SyncLease from khoros/ to syncs/; the benchmarks only read
and empty them, so they take them from either place.
"""

from __future__ import annotations

try:
    from syncs.models import SyncLease, SyncRun
except ImportError:
    from khoros.models import SyncLease, SyncRun

__all__ = ["SyncLease", "SyncRun"]
