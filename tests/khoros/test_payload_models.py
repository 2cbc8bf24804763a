"""Khoros answers are parsed by frozen pydantic models; invalid input is a clear bad payload."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from khoros.payloads import (
    KhorosBadPayloadError,
    parse_company,
    parse_export_status,
    parse_initiative,
    parse_plan,
    parse_whoami,
)

PLAN = {
    "id": "34534CD7-991E-4394-BDB5-88358CD909EB",
    "name": "Spring",
    "campaignId": 1710,
    "startDate": "2026-03-01T00:00:00-0600",
    "endDate": 1775001599999,
}


def test_models_are_frozen():
    plan = parse_plan(PLAN)
    with pytest.raises(pydantic.ValidationError):
        plan.name = "Autumn"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        parse_company({"id": 389, "name": "Acme"}).name = "Bolt"  # type: ignore[misc]


def test_documented_variants_of_ids_and_dates():
    plan = parse_plan(PLAN)
    assert plan.id == "34534cd7-991e-4394-bdb5-88358cd909eb"
    assert plan.initiative_id == "1710"  # a number on the wire, a string here
    assert plan.start == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # offset without its colon
    assert plan.end == datetime(2026, 3, 31, 23, 59, 59, 999000, tzinfo=UTC)  # epoch ms
    assert parse_plan({**PLAN, "startDate": "2026-03-01T06:00:00Z"}).start == plan.start
    assert parse_initiative({"id": "1710", "name": "Brand"}).id == "1710"


def test_whoami_bare_or_enveloped():
    bare = parse_whoami({"id": 42, "email": "a@b.example", "timezone": "America/Chicago"})
    wrapped = parse_whoami({"data": {"userId": "42", "timezone": "America/Chicago"}})
    assert (bare.user_id, bare.timezone) == ("42", "America/Chicago")
    assert (wrapped.user_id, wrapped.timezone, wrapped.email) == ("42", "America/Chicago", "")


@pytest.mark.parametrize(
    ("parse", "payload", "message"),
    [
        (parse_initiative, {"id": "1710", "name": 2021}, "initiative: name: must be a string"),
        (parse_initiative, {"name": "Brand"}, "initiative: missing id"),
        (parse_plan, {**PLAN, "startDate": "yesterday"}, "startDate: unrecognised date"),
        (parse_plan, {**PLAN, "endDate": 0}, "ends before it starts"),
        (parse_plan, {**PLAN, "id": 7}, "plan: id: must be a UUID string"),
        (parse_whoami, {"id": 1, "timezone": " "}, "whoami: empty timezone"),
        (parse_company, [], "company: expected an object, got list"),
    ],
)
def test_invalid_input_names_the_object_and_the_field(parse, payload, message):
    with pytest.raises(KhorosBadPayloadError, match=message):
        parse(payload)


def test_an_export_status_for_another_export_is_refused():
    with pytest.raises(KhorosBadPayloadError, match="asked for 9, answered for 8"):
        parse_export_status({"export_id": 8, "status": "pending"}, export_id="9")
    status = parse_export_status({"status": " Running "}, export_id="9")
    assert (status.export_id, status.status, status.url) == ("9", "running", None)


def test_an_unknown_field_spelled_like_an_attribute_is_ignored_like_any_extra():
    # Only the wire names count: hypothesis found "target_audience": [...] read as the attribute.
    plan = parse_plan({**PLAN, "target_audience": [1], "start": "nonsense", "targetAudience": "x"})
    assert (plan.target_audience, plan.start) == ("x", datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    assert parse_plan({**PLAN, "target_audience": {"a": 1}}).target_audience == ""
