"""The sync engine: runs, leases, the task, schedules, health and alerts of every sync kind.

Each system app registers its kinds here (`syncs.register`); the engine imports no system app.
"""

from syncs.registry import (
    SyncKind,
    register,
    register_alert_recipients,
    register_follow_up,
    register_pruner,
    register_schedule,
    register_secrets,
)

__all__ = [
    "SyncKind",
    "register",
    "register_alert_recipients",
    "register_follow_up",
    "register_pruner",
    "register_schedule",
    "register_secrets",
]
