"""Database helpers for the hottest paths, where a round trip to the server is a real cost."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import InterfaceError, NotSupportedError, OperationalError, connection
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
            return hot_row(sql, params)
        except (InterfaceError, OperationalError):
            connection.close()
    return hot_row(sql, params)


def hot_row(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Send SQL written once for a hot path; its first row, or None (none, or no rows at all).

    On PostgreSQL with DATABASE_PREPARED_STATEMENTS the statement is bound on the server and
    prepared the first time a connection sends it, so that PostgreSQL plans it once per
    connection instead of on every call: the Initiative read of SAP MC's external-campaign list
    spent more of its server time planning than running (issue 13). The rest is Django's
    cursor: its error classes, the health check, the query log of tests and DEBUG.

    A migration that changes the type of a column a prepared statement returns makes
    PostgreSQL refuse that statement on that connection for good ("cached plan must not change
    result type"): outside a transaction the statement is then sent once more on a new
    connection, which it is safe to do because the refused one was never run.
    """
    try:
        return _run_hot(sql, params)
    except NotSupportedError:
        if not _prepares() or connection.in_atomic_block:
            raise
        connection.close()
        return _run_hot(sql, params)


def _prepares() -> bool:
    return connection.vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS


def _run_hot(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with _hot_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description is not None else None


@contextmanager
def _hot_cursor() -> Iterator[CursorWrapper]:
    if not _prepares():
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # Checked and connected first, in Django's order: the factory is swapped on the connection
    # that connection.cursor() below will use, not on one a failed check would replace.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    # Django makes its cursors with the connection's factory; for this one cursor, the server-
    # binding class it would use with OPTIONS server_side_binding (the connection is this
    # thread's alone, so nothing else sees the swap). The connection was opened with
    # prepare_threshold=0 (settings), so psycopg prepares what such a cursor sends.
    factory, raw.cursor_factory = raw.cursor_factory, ServerBindingCursor
    try:
        cursor = connection.cursor()
    finally:
        raw.cursor_factory = factory
    with cursor:
        yield cursor
