"""Filters and the formatter of the log handlers (settings.LOGGING)."""

from __future__ import annotations

import logging
import re

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


# A request target in urllib3's lines: after a space or a quote, from "/" to the next space or
# quote ('https://host:443 "GET /path?query HTTP/1.1" 200 512'); "//host" and "HTTP/1.1" are not.
_REQUEST_TARGET = re.compile(r"(?<=[\s\"'])/[^\s\"']*")


class RequestTargetsRedacted(logging.Filter):
    """Drop the path and query of every URL the HTTP library logs (urllib3, at DEBUG).

    A pre-signed download link carries its credential in its query string (S3's
    X-Amz-Signature and X-Amz-Security-Token) or in its path, and urllib3 logs each request's
    full target. Our clients log every request themselves, a signed link by its host only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _REQUEST_TARGET.sub("[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
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
