"""smcbridge.db: a request's first read does the work of Django's health check; the hot
statements are prepared on PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from smcbridge import db
from smcbridge.db import first_read, hot_row


def _as_at_a_request_start() -> None:
    # What Django's request_started signal does to a kept connection (close_old_connections).
    connection.close_if_unusable_or_obsolete()


@pytest.mark.django_db(transaction=True)
def test_a_kept_connection_is_not_sent_select_1_first(monkeypatch):
    connection.ensure_connection()
    checks: list[bool] = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(True) or True)
    for _ in range(2):
        _as_at_a_request_start()
        assert connection.health_check_enabled and not connection.health_check_done
        assert first_read("SELECT 41 + 1", []) == (42,)
        # Later statements of the request are not checked either: the read was the check.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 2")
    assert checks == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_replaced_and_the_read_answers():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server to drop a connection (is_usable is always true)")
    connection.ensure_connection()
    dropped = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    _as_at_a_request_start()
    assert first_read("SELECT pg_backend_pid()", []) != (dropped,)
    # Without first_read's check the same read fails: the check is what saved it.
    dropped = connection.connection.info.backend_pid
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    connection.health_check_done = True
    with pytest.raises((InterfaceError, OperationalError)):
        first_read("SELECT 1", [])
    connection.close()


def _failing_once(monkeypatch) -> list[str]:
    """Make the first send fail as a dropped connection does; return the list of sends."""
    sent: list[str] = []
    real = db.hot_row

    def fetch(sql, params):
        sent.append(sql)
        if len(sent) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(sql, params)

    monkeypatch.setattr(db, "hot_row", fetch)
    return sent


@pytest.mark.django_db(transaction=True)
def test_the_read_is_sent_again_on_a_new_connection_only_when_it_is_the_check(monkeypatch):
    connection.ensure_connection()
    kept = connection.connection
    sent = _failing_once(monkeypatch)
    _as_at_a_request_start()
    assert first_read("SELECT 5", []) == (5,)
    assert sent == ["SELECT 5", "SELECT 5"] and connection.connection is not kept

    # Once checked (a second read of the request), a failure is the caller's to see.
    sent = _failing_once(monkeypatch)
    with pytest.raises(OperationalError):
        first_read("SELECT 6", [])
    assert sent == ["SELECT 6"]


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_a_failing_read_is_not_sent_again(monkeypatch):
    connection.ensure_connection()
    _as_at_a_request_start()
    sent = _failing_once(monkeypatch)
    # A new connection would not carry the transaction's work on: the failure is raised.
    with pytest.raises(OperationalError), transaction.atomic():
        first_read("SELECT 7", [])
    assert sent == ["SELECT 7"]


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no prepared statements to keep")


@pytest.mark.django_db(transaction=True)
def test_hot_statements_are_prepared_once_per_connection_on_postgresql(settings):
    _postgresql_only()
    connection.close()  # a fresh connection: nothing prepared yet
    for n in range(3):
        assert hot_row("SELECT %s::int + 40 AS hot", [n]) == (n + 40,)
    # One statement, bound on the server ($1) and prepared once, whatever the parameter.
    assert [s for s in _prepared_statements() if "AS hot" in s] == ["SELECT $1::int + 40 AS hot"]
    # Django's own cursors bind on the client and prepare nothing.
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT %s::int + 1 AS cold", [1])
    assert not [s for s in _prepared_statements() if "AS cold" in s]

    settings.DATABASE_PREPARED_STATEMENTS = False
    assert hot_row("SELECT %s::int + 2 AS off", [1]) == (3,)
    assert not [s for s in _prepared_statements() if "AS off" in s]
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_prepared_statement_outlives_a_migration_of_its_columns():
    _postgresql_only()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE hot_row_test (id int, name varchar(10))")
        cursor.execute("INSERT INTO hot_row_test VALUES (1, 'kept')")
    try:
        read = "SELECT id, name FROM hot_row_test WHERE id = %s"
        assert hot_row(read, [1]) == (1, "kept")
        prepared_on = connection.connection.info.backend_pid
        # What a migration run by another process does while this worker keeps its connection.
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            other.execute("ALTER TABLE hot_row_test ALTER COLUMN name TYPE varchar(20)")
        # PostgreSQL now refuses the prepared read on that connection: it is sent again on a
        # new one, once.
        assert hot_row(read, [1]) == (1, "kept")
        assert connection.connection.info.backend_pid != prepared_on
        # A write that returns nothing answers None.
        assert hot_row("UPDATE hot_row_test SET name = %s WHERE id = %s", ["new", 1]) is None
        assert hot_row(read, [1]) == (1, "new")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE hot_row_test")


@pytest.mark.django_db(transaction=True)
def test_hot_statements_keep_djangos_errors_and_query_log(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert hot_row("SELECT 1", []) == (1,)
    # Django's error classes, not psycopg's (SQLite calls a missing table operational).
    with pytest.raises(DatabaseError):
        hot_row("SELECT no_such_column FROM no_such_table", [])
