"""Khoros payload parsing: every documented variant parses, anything else is a bad payload."""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import hashlib
import io
import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from khoros.client import (
    ExportTable,
    KhorosBadPayloadError,
    KhorosClient,
    KhorosUnavailableError,
    parse_datetime,
    parse_initiative,
    parse_plan,
)
from khoros.payloads import parse_export_status
from tests.http_helpers import JUNK

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 1970 to 2100: the instants a Plan can plausibly carry.
MS = st.integers(min_value=0, max_value=4_102_444_800_000)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))
# Text as Khoros sends it: anything but NUL (dropped on purpose, tested apart).
# Text the client keeps as sent: clean_text drops NUL, lone surrogates and bidi controls
# (U+202A-U+202E, U+2066-U+2069; tests/khoros/test_long_and_bidi_names.py proves that part).
BIDI_CONTROLS = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
TEXT = st.text(
    alphabet=st.characters(
        blacklist_characters="\x00" + BIDI_CONTROLS, blacklist_categories=("Cs",)
    )
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=10,
)


PLAN_KEYS = {
    "sfEntityType", "id", "name", "color", "campaignId", "companyId", "startDate", "endDate",
    "overview", "objective", "targetAudience", "createdDate", "lastModifiedDate",
}  # fmt: skip
EXTRA_FIELDS = st.dictionaries(TEXT.filter(lambda k: k not in PLAN_KEYS), JSON_VALUES, max_size=3)


def iso(ms: int, offset: timedelta, *, colon: bool) -> str:
    """Format an instant as Khoros' older payloads do, in the zone of `offset`."""
    local = (EPOCH + timedelta(milliseconds=ms)).astimezone(timezone(offset))
    text = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"
    if offset == timedelta(0) and not colon:
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    separator = ":" if colon else ""
    return f"{text}{sign}{minutes // 60:02d}{separator}{minutes % 60:02d}"


@st.composite
def date_forms(draw: st.DrawFn, ms: int) -> Any:
    """Draw one of the wire forms of an instant: epoch ms, its digits, ISO with Z or an offset."""
    form = draw(st.sampled_from(["int", "digits", "z", "offset", "offset_colon"]))
    if form == "int":
        return ms
    if form == "digits":
        return str(ms)
    if form == "z":
        return iso(ms, timedelta(0), colon=False)
    return iso(ms, draw(OFFSETS), colon=form == "offset_colon")


@st.composite
def plan_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw a valid Plan payload and the values the parser must find in it."""
    plan_id = draw(st.uuids())
    initiative = draw(st.integers(min_value=1, max_value=10**12))
    start_ms = draw(MS)
    end_ms = start_ms + draw(st.integers(min_value=0, max_value=400 * 86_400_000))
    payload: dict[str, Any] = {
        "sfEntityType": "Plan",
        "id": draw(st.sampled_from([str(plan_id), str(plan_id).upper()])),
        "name": draw(TEXT),
        "campaignId": draw(st.sampled_from([initiative, str(initiative)])),
        "companyId": draw(st.sampled_from([389, "389"])),
        "startDate": draw(date_forms(start_ms)),
        "endDate": draw(date_forms(end_ms)),
    }
    expected: dict[str, Any] = {
        "id": str(plan_id),
        "initiative_id": str(initiative),
        "name": payload["name"],
        "start": EPOCH + timedelta(milliseconds=start_ms),
        "end": EPOCH + timedelta(milliseconds=end_ms),
    }
    for key, attr in [
        ("color", "color"),
        ("overview", "overview"),
        ("objective", "objective"),
        ("targetAudience", "target_audience"),
    ]:
        present = draw(st.sampled_from(["missing", "null", "text"]))
        if present == "text":
            payload[key] = expected[attr] = draw(TEXT)
        else:
            expected[attr] = ""
            if present == "null":
                payload[key] = None
    for key, attr in [("createdDate", "created"), ("lastModifiedDate", "last_modified")]:
        if draw(st.booleans()):
            ms = draw(MS)
            payload[key] = draw(date_forms(ms))
            expected[attr] = EPOCH + timedelta(milliseconds=ms)
        else:
            expected[attr] = None
    payload.update(draw(EXTRA_FIELDS))
    return payload, expected


@st.composite
def initiative_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw a valid Initiative payload and the values the parser must find in it."""
    number = draw(st.integers(min_value=0, max_value=10**18))
    payload: dict[str, Any] = {
        "sfEntityType": "Initiative",
        "id": draw(st.sampled_from([number, str(number)])),
        "name": draw(TEXT),
    }
    description = draw(st.none() | TEXT)
    if description is not None:
        payload["description"] = description
    payload.update(draw(st.dictionaries(st.sampled_from(["tags", "x", "sfLegacyId"]), JSON_VALUES)))
    return payload, {"id": str(number), "name": payload["name"], "description": description or ""}


# --- parse_datetime --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1615957200000, datetime(2021, 3, 17, 5, 0, tzinfo=UTC)),
        (1619931599999, datetime(2021, 5, 2, 4, 59, 59, 999000, tzinfo=UTC)),
        ("1615957200000", datetime(2021, 3, 17, 5, 0, tzinfo=UTC)),
        (1615957200000.0, datetime(2021, 3, 17, 5, 0, tzinfo=UTC)),
        ("2014-11-06T15:10:20.139+0000", datetime(2014, 11, 6, 15, 10, 20, 139000, tzinfo=UTC)),
        ("2014-11-06T15:10:20.139Z", datetime(2014, 11, 6, 15, 10, 20, 139000, tzinfo=UTC)),
        ("2014-11-06T15:10:20.139+00:00", datetime(2014, 11, 6, 15, 10, 20, 139000, tzinfo=UTC)),
        ("2014-11-06T09:10:20.139-0600", datetime(2014, 11, 6, 15, 10, 20, 139000, tzinfo=UTC)),
        ("2014-11-06T15:10:20Z", datetime(2014, 11, 6, 15, 10, 20, tzinfo=UTC)),
    ],
)
def test_parse_datetime_reads_the_documented_forms_as_utc(
    value: object, expected: datetime
) -> None:
    parsed = parse_datetime(value)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        "",
        "soon",
        "2014-11-06T15:10:20.139",  # no offset: which day it is depends on a guess
        "2014-11-06",
        "2014-13-06T15:10:20Z",
        "2014-11-06T24:00:00Z",
        "٢٠١٤-11-06T15:10:20Z",  # non-ASCII digits
        "1.5e12",
        math.nan,
        math.inf,
        10**30,
        -(10**30),
        pytest.param(10**5000, id="huge-int"),
        "9" * 40,
        [1615957200000],
        {"ms": 1615957200000},
    ],
)
def test_parse_datetime_refuses_anything_else(value: object) -> None:
    with pytest.raises(KhorosBadPayloadError):
        parse_datetime(value)


@given(ms=MS, offset=OFFSETS, colon=st.booleans())
def test_every_wire_form_of_an_instant_parses_to_the_same_utc_instant(
    ms: int, offset: timedelta, colon: bool
) -> None:
    instant = EPOCH + timedelta(milliseconds=ms)
    assert parse_datetime(ms) == instant
    assert parse_datetime(str(ms)) == instant
    assert parse_datetime(iso(ms, timedelta(0), colon=False)) == instant
    assert parse_datetime(iso(ms, offset, colon=colon)) == instant


@given(value=JUNK)
@example(value="2014-11-06T15:10:20.139+9999")
@example(value="0001-01-01T00:00:00+0100")
@example(value="9999-12-31T23:59:59-0100")
@example(value=-62_135_596_800_001)
def test_parse_datetime_returns_aware_utc_or_raises_a_bad_payload(value: object) -> None:
    try:
        parsed = parse_datetime(value)
    except KhorosBadPayloadError:
        return
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)


# --- parse_plan ------------------------------------------------------------------------------


@given(case=plan_payloads())
def test_a_valid_plan_payload_parses_into_its_values(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    payload, expected = case
    plan = parse_plan(payload)
    assert {name: getattr(plan, name) for name in expected} == expected
    assert plan.start.tzinfo is not None and plan.end >= plan.start
    assert plan.raw == payload
    assert plan.raw is not payload  # a copy: mutating the payload later cannot alter the Plan


@given(case=plan_payloads())
def test_a_plan_listed_under_its_initiative_parses_with_either_id_form(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    payload, expected = case
    assert (
        parse_plan(payload, initiative_id=expected["initiative_id"]).initiative_id
        == (expected["initiative_id"])
    )


def test_the_documented_plan_example_parses() -> None:
    payload = {
        "sfEntityType": "Plan",
        "id": "34534cd7-991e-4394-bdb5-88358cd909eb",
        "name": "Grow the Following",
        "color": "#1a7293",
        "campaignId": 1710,
        "companyId": 389,
        "startDate": 1615957200000,
        "endDate": 1619931599999,
        "overview": "...",
        "objective": "...",
        "targetAudience": "...",
        "createdDate": 1612000000000,
        "lastModifiedDate": 1613000000000,
    }
    plan = parse_plan(payload, initiative_id="1710")
    assert plan.id == "34534cd7-991e-4394-bdb5-88358cd909eb"
    assert plan.initiative_id == "1710"
    assert plan.start == datetime(2021, 3, 17, 5, 0, tzinfo=UTC)  # midnight in Chicago (CDT)
    assert plan.end == datetime(2021, 5, 2, 4, 59, 59, 999000, tzinfo=UTC)  # last ms of May 1
    assert plan.created == datetime(2021, 1, 30, 9, 46, 40, tzinfo=UTC)
    assert (plan.color, plan.overview, plan.target_audience) == ("#1a7293", "...", "...")


def test_plans_compare_equal_whatever_the_raw_payload() -> None:
    base = {"id": str(uuid.uuid4()), "name": "A", "campaignId": 1, "startDate": 0, "endDate": 1}
    plan = parse_plan(base)
    assert plan == parse_plan({**base, "tags": ["new"]})
    assert hash(plan) == hash(parse_plan({**base, "startDate": "1970-01-01T00:00:00Z"}))


def test_a_plan_drops_nul_characters_that_postgres_cannot_store() -> None:
    payload = {
        "id": str(uuid.uuid4()),
        "name": "Spring\x00 Sale",
        "campaignId": "1710",
        "startDate": 0,
        "endDate": 0,
        "note\x00": ["a\x00b"],
    }
    plan = parse_plan(payload)
    assert plan.name == "Spring Sale"
    assert plan.raw["note"] == ["ab"]


# The spec lists no required property; these the bridge cannot do without. A name it can: a
# Plan or Initiative without one is shown as "(no name)" with its id.
REQUIRED_PLAN_KEYS = ["id", "startDate", "endDate"]


@given(case=plan_payloads(), key=st.sampled_from(REQUIRED_PLAN_KEYS), null=st.booleans())
def test_a_plan_without_a_required_field_is_a_bad_payload(
    case: tuple[dict[str, Any], dict[str, Any]], key: str, null: bool
) -> None:
    payload, _ = case
    if null:
        payload[key] = None
    else:
        del payload[key]
    with pytest.raises(KhorosBadPayloadError):
        parse_plan(payload)


@pytest.mark.parametrize("null", [True, False])
def test_a_plan_or_initiative_without_a_name_parses_with_a_blank_one(null: bool) -> None:
    # The spec's answers list no required property: one without a name failed its whole page
    # (every Plan of the Initiative) or, for an Initiative, the whole Plan sync.
    plan = {"id": str(uuid.uuid4()), "campaignId": 1710, "startDate": 0, "endDate": 1}
    initiative: dict[str, Any] = {"id": 1710}
    if null:
        plan["name"] = initiative["name"] = None
    assert parse_plan(plan).name == ""
    assert (parse_initiative(initiative).id, parse_initiative(initiative).name) == ("1710", "")


def test_a_plan_without_any_initiative_is_a_bad_payload() -> None:
    payload = {"id": str(uuid.uuid4()), "name": "A", "startDate": 0, "endDate": 1}
    with pytest.raises(KhorosBadPayloadError):
        parse_plan(payload)
    assert parse_plan(payload, initiative_id="1710").initiative_id == "1710"


def test_a_plan_of_another_initiative_is_a_bad_payload() -> None:
    payload = {"id": str(uuid.uuid4()), "name": "A", "campaignId": 1711, "startDate": 0}
    payload["endDate"] = 1
    with pytest.raises(KhorosBadPayloadError, match="1711"):
        parse_plan(payload, initiative_id="1710")


@given(
    case=plan_payloads(),
    key=st.sampled_from(sorted(PLAN_KEYS - {"sfEntityType", "companyId"})),
    junk=JUNK,
)
def test_a_plan_field_replaced_by_junk_parses_or_is_a_bad_payload(
    case: tuple[dict[str, Any], dict[str, Any]], key: str, junk: object
) -> None:
    payload, _ = case
    payload[key] = junk
    try:
        plan = parse_plan(payload)
    except KhorosBadPayloadError:
        return
    # The junk happened to be valid for that field (a date, a string, a null optional field).
    json.dumps(plan.raw, allow_nan=False)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", 12345),
        ("id", "not-a-uuid"),
        ("id", ""),
        ("name", 42),
        ("name", ["Spring"]),
        ("color", 0x1A7293),
        ("overview", {"text": "..."}),
        ("campaignId", True),
        ("campaignId", 1.5),
        ("campaignId", ""),
        pytest.param("campaignId", 10**5000, id="campaignId-huge-int"),
        ("startDate", "yesterday"),
        ("startDate", math.nan),
        ("endDate", -1),  # before the start: a Plan cannot end before it begins
        ("createdDate", "2014-11-06T15:10:20"),
        ("extra", math.nan),
        pytest.param("extra", 10**5000, id="extra-huge-int"),
        ("extra", object()),
    ],
)
def test_a_plan_with_an_invalid_value_is_a_bad_payload(key: str, value: object) -> None:
    payload = {"id": str(uuid.uuid4()), "name": "A", "campaignId": 1, "startDate": 0, "endDate": 1}
    payload[key] = value
    with pytest.raises(KhorosBadPayloadError):
        parse_plan(payload)


def test_a_plan_nested_too_deep_to_copy_is_a_bad_payload() -> None:
    nested: dict[str, Any] = {}
    deep = nested
    for _ in range(100_000):
        deep["x"] = {}
        deep = deep["x"]
    payload = {"id": str(uuid.uuid4()), "name": "A", "campaignId": 1, "startDate": 0, "endDate": 1}
    with pytest.raises(KhorosBadPayloadError):
        parse_plan({**payload, "extra": nested})


@given(item=JUNK)
@settings(max_examples=300)
def test_parsing_junk_raises_only_bad_payload_errors(item: object) -> None:
    for parse in (parse_plan, parse_initiative):
        with contextlib.suppress(KhorosBadPayloadError):
            parse(item)


@given(item=st.dictionaries(st.sampled_from(sorted(PLAN_KEYS)), JUNK, max_size=13))
@settings(max_examples=300)
def test_parsing_objects_of_junk_raises_only_bad_payload_errors(item: dict[str, Any]) -> None:
    with contextlib.suppress(KhorosBadPayloadError):
        parse_plan(item, initiative_id="1710")
    with contextlib.suppress(KhorosBadPayloadError):
        parse_initiative(item)


# --- parse_initiative ------------------------------------------------------------------------


@given(case=initiative_payloads())
def test_a_valid_initiative_payload_parses_into_its_values(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    payload, expected = case
    initiative = parse_initiative(payload)
    assert (initiative.id, initiative.name, initiative.description) == (
        expected["id"],
        expected["name"],
        expected["description"],
    )


def test_the_documented_initiative_example_parses() -> None:
    initiative = parse_initiative(
        {"sfEntityType": "Initiative", "id": "1710", "name": "Brand 2021", "description": "..."}
    )
    assert (initiative.id, initiative.name, initiative.description) == ("1710", "Brand 2021", "...")


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Brand"},
        {"id": None, "name": "Brand"},
        {"id": "   ", "name": "Brand"},
        {"id": True, "name": "Brand"},
        {"id": 17.1, "name": "Brand"},
        {"id": ["1710"], "name": "Brand"},
        {"id": "1" * 33, "name": "Brand"},
        pytest.param({"id": 10**5000, "name": "Brand"}, id="huge-int-id"),
        {"id": "1710", "name": 2021},
        {"id": "1710", "name": "Brand", "description": ["..."]},
        [{"id": "1710", "name": "Brand"}],
        "1710",
        None,
    ],
)
def test_an_invalid_initiative_is_a_bad_payload(payload: object) -> None:
    with pytest.raises(KhorosBadPayloadError):
        parse_initiative(payload)


# --- export status ---------------------------------------------------------------------------


def test_the_documented_export_status_keeps_its_expiry_as_local_wall_time() -> None:
    # The spec's example expiry is local wall time (no offset), not UTC: it stays naive, and
    # becomes an instant only in the export's zone.
    status = parse_export_status(
        {
            "export_id": 1958298,
            "status": "COMPLETE",
            "url": "https://files.example/export.csv?X-Amz-Signature=abc",
            "expires": "2026-11-02T16:58:16.478",
        },
        export_id="1958298",
    )
    assert status.export_id == "1958298"
    assert status.status == "complete"
    assert status.expires == datetime(2026, 11, 2, 16, 58, 16, 478000)
    assert status.expires_at(ZoneInfo("America/Chicago")) == datetime(
        2026, 11, 2, 22, 58, 16, 478000, tzinfo=UTC
    )


@pytest.mark.parametrize("expires", ["tomorrow", "", "2026-13-45T99:00"])
def test_an_export_expiry_that_is_no_time_is_unknown_not_a_failed_export(expires) -> None:
    # The spec promises "a string" and nothing is decided from it: refusing the status lost a
    # complete export's link, and its KPIs, until the wait ran out.
    status = parse_export_status(
        {"export_id": 7, "status": "complete", "url": "u", "expires": expires}, export_id="7"
    )
    assert (status.status, status.url, status.expires) == ("complete", "u", None)


def test_an_export_expiry_with_an_offset_is_an_instant() -> None:
    status = parse_export_status(
        {"export_id": 7, "status": "complete", "url": "u", "expires": "2026-11-02T16:58:16Z"},
        export_id="7",
    )
    assert status.expires == datetime(2026, 11, 2, 16, 58, 16, tzinfo=UTC)
    assert status.expires_at(ZoneInfo("America/Chicago")) == status.expires


@pytest.mark.parametrize(
    "payload",
    [
        {"export_id": 1958298},
        {"export_id": 1958298, "status": 3},
        {"export_id": 1958299, "status": "pending"},
        {"export_id": 1958298, "status": "complete"},
    ],
)
def test_an_invalid_export_status_is_a_bad_payload(payload: dict[str, Any]) -> None:
    with pytest.raises(KhorosBadPayloadError):
        parse_export_status(payload, export_id="1958298")


# --- errors ----------------------------------------------------------------------------------


# --- CSV streaming ---------------------------------------------------------------------------


class FakeStream:
    """Stand in for a streaming requests.Response: the body in the given chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


def csv_rows_of(body: bytes, cuts: list[int]) -> tuple[list[dict[str, str]], FakeStream]:
    positions = sorted({min(c, len(body)) for c in cuts})
    bounds = [0, *positions, len(body)]
    stream = FakeStream([body[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
    client = KhorosClient(base_url="http://127.0.0.1:9/v2", token="t0k3n", company_id="389")
    try:
        return list(client._csv_rows(stream, "/x.csv")), stream  # type: ignore[arg-type]
    finally:
        client.close()


CELLS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=12,
)


@given(
    header=st.lists(CELLS, min_size=1, max_size=4, unique=True),
    data=st.data(),
    bom=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_csv_rows_survive_any_chunking_with_bom_quoted_newlines_and_multibyte_text(
    header: list[str], data: st.DataObject, bom: bool, cuts: list[int]
) -> None:
    assume(header != [""])  # a lone empty header cell is a blank line in CSV
    rows = data.draw(st.lists(st.lists(CELLS, min_size=len(header), max_size=len(header))))
    rows = [row for row in rows if row != [""]]
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([header, *rows])
    body = (codecs.BOM_UTF8 if bom else b"") + text.getvalue().encode()
    parsed, stream = csv_rows_of(body, cuts)
    assert parsed == [dict(zip(header, row, strict=True)) for row in rows]
    assert stream.closed


def test_a_csv_with_only_its_header_yields_no_rows() -> None:
    assert csv_rows_of(b"post_id,Impressions\r\n", [1])[0] == []


@pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf", b"\r\n\r\n"])
def test_a_body_without_even_a_header_is_no_csv(body: bytes) -> None:
    # Not "no rows": an empty 200 is a failure (a history read as empty would never be re-read).
    with pytest.raises(KhorosBadPayloadError, match="empty"):
        csv_rows_of(body, [1])


@pytest.mark.parametrize(
    "body",
    [
        b"a,b\r\n1,2,3\r\n",  # a row wider than the header
        b"a,a\r\n1,2\r\n",  # two columns under one name
        b"a,b\r\n\xff\xfe,2\r\n",  # not UTF-8
        b'a,b\r\n"1,2\r\n',  # a quote never closed
    ],
)
def test_a_broken_csv_is_a_bad_payload(body: bytes) -> None:
    with pytest.raises(KhorosBadPayloadError):
        csv_rows_of(body, [3])


class HeaderedStream(FakeStream):
    def __init__(self, chunks: list[bytes], headers: dict[str, str]) -> None:
        super().__init__(chunks)
        self.headers = headers


def test_a_table_is_proved_whole_only_by_a_matching_md5_etag() -> None:
    body = b"Post ID,Plan\r\n1,a\r\n2,b\r\n"
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    table = ExportTable(HeaderedStream([body], {"ETag": etag}), "/x.csv")  # type: ignore[arg-type]
    assert table.header == ["Post ID", "Plan"]
    assert [cells for _, cells in table] == [["1", "a"], ["2", "b"]]
    assert table.verified
    cut = body[: body.index(b"2,b")]  # cut between two rows: only the ETag tells
    table = ExportTable(HeaderedStream([cut], {"ETag": etag}), "/x.csv")  # type: ignore[arg-type]
    with pytest.raises(KhorosUnavailableError, match="does not match its ETag"):
        list(table)
    multipart = ExportTable(HeaderedStream([body], {"ETag": '"abc-2"'}), "/x.csv")  # type: ignore[arg-type]
    assert len(list(multipart)) == 2 and not multipart.verified


def test_a_table_cut_mid_row_is_never_accepted() -> None:
    table = ExportTable(FakeStream([b"Post ID,Plan\r\n1,a\r\n2,"]), "/x.csv")  # type: ignore[arg-type]
    with pytest.raises(KhorosUnavailableError, match="no final line break"):
        list(table)


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=UTF-8", "application/json", "application/xml"]
)
def test_a_body_served_as_a_page_or_json_is_no_csv(content_type: str) -> None:
    stream = HeaderedStream([b"a,b\r\n"], {"Content-Type": content_type})
    with pytest.raises(KhorosBadPayloadError, match="not a CSV"):
        ExportTable(stream, "/x.csv")  # type: ignore[arg-type]


def test_a_table_passes_a_row_of_another_width_on_for_the_caller_to_judge() -> None:
    table = ExportTable(FakeStream([b"a,b\r\n1,2,3\r\n4,5\r\n"]), "/x.csv")  # type: ignore[arg-type]
    assert [cells for _, cells in table] == [["1", "2", "3"], ["4", "5"]]


def gzip_in_chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_a_gzip_table_is_inflated_in_any_chunking_and_proved_by_either_md5(size: int) -> None:
    body = b"Post ID,Plan\r\n1,a\r\n2,b\r\n"
    # Two members, as concatenated .gz files are: both are the file.
    sent = gzip.compress(body[:16], mtime=0) + gzip.compress(body[16:], mtime=0)
    for etag in (hashlib.md5(sent).hexdigest(), hashlib.md5(body).hexdigest()):
        stream = HeaderedStream(gzip_in_chunks(sent, size), {"ETag": f'"{etag}"'})
        table = ExportTable(stream, "/x.csv")  # type: ignore[arg-type]
        assert table.header == ["Post ID", "Plan"]
        assert [cells for _, cells in table] == [["1", "a"], ["2", "b"]]
        assert table.verified


def test_a_gzip_table_cut_or_damaged_is_never_accepted() -> None:
    body = b"Post ID,Plan\r\n" + b"".join(b"%d,a\r\n" % i for i in range(2000))
    sent = gzip.compress(body, mtime=0)
    # Cut before the end of the gzip stream, even where the CSV inside ends with a line break.
    table = ExportTable(FakeStream(gzip_in_chunks(sent[:-8], 64)), "/x.csv")  # type: ignore[arg-type]
    with pytest.raises(KhorosUnavailableError, match="stops before its end"):
        list(table)
    damaged = sent[:40] + bytes(b ^ 0xFF for b in sent[40:60]) + sent[60:]
    table = ExportTable(FakeStream([damaged]), "/x.csv")  # type: ignore[arg-type]
    with pytest.raises(KhorosBadPayloadError, match="gzip download is damaged"):
        list(table)
