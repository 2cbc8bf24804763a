"""The Khoros sync kinds' values (khoros/sync_kinds.py registers them with the engine)."""

# Stored in SyncRun.kind: never change these values.
KHOROS_PLANS = "khoros_plans"
KHOROS_KPIS = "khoros_kpis"
