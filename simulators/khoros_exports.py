"""The Khoros simulator's analytics exports: the jobs it tracks, their posts and their CSV."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulators.base import Response
from simulators.faults import Fault
from simulators.khoros_data import (
    COLUMN_LABELS,
    FIELD_NAMES,
    INITIATIVE_FIELD,
    PLAN_FIELD,
    POST_ID_FIELD,
    PUBLISHED_FIELD,
    KhorosData,
    Post,
    zone,
)


@dataclass
class Export:
    """One analytics export job as the simulator tracks it."""

    id: int
    fields: list[int]
    start: date
    stop: date
    timezone: str
    initiative_ids: frozenset[str]
    plan_ids: frozenset[str]
    header: bool
    delimiter: str
    polls: int = 0
    token: str | None = None
    expires: datetime | None = None


def s3_error(code: str, message: str, *, status: int = 403, **extra: str) -> Response:
    """The XML error body S3 sends for a bad or expired pre-signed URL (403 unless told)."""
    details = "".join(f"<{key}>{value}</{key}>" for key, value in extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{details}"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return Response(status, body.encode(), "application/xml")


def expires_text(instant: datetime, tz: ZoneInfo | None = None) -> str:
    # The spec's `expires` has no offset: local wall time ("2021-03-24T16:58:16.478", one hour
    # after the "-0500" time in its file name), in the export's zone; UTC for S3's own XML.
    local = instant.astimezone(tz or UTC)
    return local.replace(tzinfo=None).isoformat(timespec="milliseconds")


def export_posts(data: KhorosData, export: Export) -> list[Post]:
    """Posts an export reports: asked plans/initiatives, published in [start, stop) locally."""
    tz = zone(export.timezone)
    # A day of slack either side: plan dates are in the company zone, the export's may differ.
    low, high = export.start - timedelta(days=1), export.stop + timedelta(days=1)
    plan_ids = [
        plan.id
        for plan in data.plans
        if (not export.plan_ids or plan.id in export.plan_ids)
        and (not export.initiative_ids or plan.initiative_id in export.initiative_ids)
        and plan.end_date >= low
        and plan.start_date <= high
    ]
    posts = [
        post
        for post in data.iter_posts(plan_ids)
        if export.start <= post.published_at.astimezone(tz).date() < export.stop
    ]
    posts.sort(key=lambda post: (post.published_at, post.post_id))
    return posts


def export_csv(export: Export, data: KhorosData, mod: Callable[[str], Fault | None]) -> bytes:
    """The spec's layout: the requested fields as columns, in the requested order."""
    named = mod("csv_named_header") is not None
    if named:
        fields = [POST_ID_FIELD, PLAN_FIELD, INITIATIVE_FIELD, PUBLISHED_FIELD]
        fields += [f for f in export.fields if f in FIELD_NAMES]
        names = {
            POST_ID_FIELD: "post_id",
            PLAN_FIELD: "plan_id",
            INITIATIVE_FIELD: "initiative_id",
            PUBLISHED_FIELD: "published_at",
            **FIELD_NAMES,
        }
        columns = [names[f] for f in fields]
    else:
        fields = list(export.fields)
        columns = [COLUMN_LABELS.get(f, f"Field {f}") for f in fields]
    with_text = mod("csv_quoted_newlines") is not None
    if with_text:
        columns.append("text")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=export.delimiter, lineterminator="\r\n")
    if export.header:
        writer.writerow(columns)
    posts = [] if mod("csv_empty") else export_posts(data, export)
    middle = len(posts) // 2
    bad = mod("csv_bad_row")
    bad_time = mod("csv_bad_time")
    ragged = mod("csv_ragged_row")
    epoch_ms = mod("csv_epoch_ms") is not None
    tz = zone(export.timezone)
    for index, post in enumerate(posts):
        published_ms = int(post.published_at.timestamp() * 1000)
        values: dict[int, Any] = {
            POST_ID_FIELD: post.post_id,
            PLAN_FIELD: post.plan_id,
            INITIATIVE_FIELD: post.initiative_id,
            PUBLISHED_FIELD: published_ms
            if epoch_ms
            else post.published_at.astimezone(tz).isoformat(),
        }
        if index == middle and bad_time is not None:
            values[PUBLISHED_FIELD] = bad_time.params.get("value", published_ms // 1000)
        row: list[Any] = []
        metric_seen = False
        for field_id in fields:
            if field_id in FIELD_NAMES:
                value: Any = post.metrics.get(field_id, 0)
                if index == middle and bad is not None and not metric_seen:
                    value = bad.params.get("value", "n/a")
                metric_seen = True
                row.append(value)
            else:
                row.append(values.get(field_id, ""))
        if with_text:
            plan = data.plan(post.plan_id)
            name = plan.name if plan else ""
            row.append(f'Post {post.post_id} for "{name}"\nSecond line, with a comma')
        if index == len(posts) // 3 and ragged is not None:
            row = row[:-1] if ragged.params.get("width", -1) == -1 else [*row, "0"]
        writer.writerow(row)
    text = buffer.getvalue()
    if mod("csv_bom"):
        text = "\ufeff" + text
    return text.encode()
