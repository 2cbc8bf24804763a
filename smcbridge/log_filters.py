"""Filters of the log handlers (settings.LOGGING)."""

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
