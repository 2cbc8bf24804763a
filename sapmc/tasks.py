"""The django-q2 tasks of the SAP MC app: thin, they call one service."""

from __future__ import annotations

from sapmc import services


def prune_inbound_calls_task() -> str:
    """Delete the call log's rows older than SAPMC_CALL_LOG_DAYS."""
    deleted = services.prune_inbound_calls()
    return f"{deleted} inbound call(s) older than the retention deleted"
