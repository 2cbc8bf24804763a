"""The SAP MC sync kinds' values (sapmc/sync_kinds.py registers them with the engine)."""

# Stored in SyncRun.kind: never change these values.
SAPMC_CAMPAIGNS = "sapmc_campaigns"
SAPMC_SUCCESS_PUSH = "sapmc_success_push"
