"""Filters of the log handlers (settings.LOGGING)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class RefusalsWithoutTraceback(logging.Filter):
    """Log a refused request (403) as its one line, without the PermissionDenied traceback
    django.request attaches: a manager opening a sync admin's page is an answer, not a fault,
    and its traceback buried the real errors of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
