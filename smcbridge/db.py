"""Database helpers for the hottest paths, where a round trip to the server is a real cost."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.backends.utils import CursorWrapper


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
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@contextmanager
def hot_cursor() -> Iterator[CursorWrapper]:
    """Django's cursor for SQL written once and sent on every call of a hot path.

    On PostgreSQL with DATABASE_PREPARED_STATEMENTS, it binds on the server, so that psycopg
    prepares each statement the first time a connection sends it and PostgreSQL plans it once
    per connection instead of on every call: the Initiative read of SAP MC's external-campaign
    list spent more of its server time planning than running (issue 13). Everything else about
    Django's cursor stays: error wrapping, the health check, the query log of tests and DEBUG.
    """
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    # Django makes its cursors with the connection's factory; for this one cursor, the server-
    # binding class it would use with OPTIONS server_side_binding (the connection is this
    # thread's alone, so nothing else sees the swap).
    factory, raw.cursor_factory = raw.cursor_factory, ServerBindingCursor
    try:
        cursor = connection.cursor()
    finally:
        raw.cursor_factory = factory
    with cursor:
        yield cursor
