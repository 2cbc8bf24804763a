"""Filters and the formatter of the log handlers (settings.LOGGING)."""

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


# Characters that end a line in a log file or a log viewer (C0 and C1 controls, U+2028/2029),
# written as escapes; a tab stays.
_LINE_BREAKING = {
    code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)] if code != 0x09
} | {0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"}


class OneLineFormatter(logging.Formatter):
    """Write each record's message on one line, its line breaks escaped.

    Messages quote upstream text (a Khoros export id, an error SAP MC worded): a line break in
    it started a line of its own, which read as another record ("2026-12-01 ERROR ..."). A
    traceback, added after the message, keeps its lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = record.message.translate(_LINE_BREAKING)
        return super().formatMessage(record)
