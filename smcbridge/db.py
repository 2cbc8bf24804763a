"""Database helpers for the hottest paths, where a round trip to the server is a real cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import InterfaceError, OperationalError, connection


def first_read(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """One row of a read that opens a request's work, checking the connection as it goes.

    With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before a request's first query on a kept
    connection, so that a connection the server dropped since the last request is replaced
    instead of failing. That is a round trip of its own, a quarter of those of SAP MC's most
    frequent call. Here the read does the check: if the kept connection fails it, the
    connection is closed and the read sent once more on a new one, as Django would have done
    after its `SELECT 1`. Only for reads, which can be sent twice, and outside a transaction,
    whose work a new connection would not carry on.
    """
    # django-stubs does not declare the health check's attributes (Django 4.1's).
    wrapper: Any = connection
    check = (
        wrapper.connection is not None
        and wrapper.health_check_enabled
        and not wrapper.health_check_done
        and not wrapper.in_atomic_block
    )
    if check:
        wrapper.health_check_done = True  # this read is the check
        try:
            return _fetch_one(sql, params)
        except (InterfaceError, OperationalError):
            connection.close()
    return _fetch_one(sql, params)


def _fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
