"""A DATABASE_URL whose password holds a "/", "?" or "#" not percent-encoded started, and the
driver's error then quoted a piece of the password as a host; it now stops the start saying to
percent-encode, without repeating the value."""

from __future__ import annotations

import pytest

from tests.conftest import settings_from
from tests.test_settings_refused import refused


@pytest.mark.parametrize(
    "url",
    [
        # "/" in the password: the host became "ss" and the driver said "failed to resolve
        # host 'ss'", a piece of the password.
        "postgres://postgres:p@ss/w0rd-s3cret@127.0.0.1:5432/smcbridge",
        # "?": the host became the user, the password a port, the database name empty.
        "postgres://u:12?s3cret@127.0.0.1:5432/smcbridge",
        # "#": dj-database-url's own ParseError.
        "postgres://u:ab#s3cret@127.0.0.1:5432/smcbridge",
    ],
)
def test_a_password_not_percent_encoded_stops_the_start_saying_so_without_showing_it(url):
    said = refused({"DATABASE_URL": url}, "percent-encoded")
    assert "s3cret" not in said and "w0rd" not in said


def test_a_percent_encoded_password_reaches_the_driver_whole():
    read = settings_from(
        {"DATABASE_URL": "postgres://smcbridge:p%40ss%2Fw%3Fo%23rd%20x@db.internal:5432/bridge"}
    )
    database = read["DATABASES"]["default"]
    assert (database["PASSWORD"], database["HOST"], database["NAME"]) == (
        "p@ss/w?o#rd x",
        "db.internal",
        "bridge",
    )
