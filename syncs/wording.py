"""A run's outcomes in sentences: what a person reads instead of the checkpoint's raw keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smcbridge.names import shown_name


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def plural(count: int, one: str, many: str) -> str:
    """ "1 row", "1,204 rows"."""
    return f"{_n(count)} {one if count == 1 else many}"


def _int(outcome: Mapping[str, Any], key: str) -> int:
    value = outcome.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def outcome_label(outcome: Mapping[str, Any]) -> str:
    """What the outcome is about: an Initiative, a KPI export, a chunk of campaigns."""
    if "initiative" in outcome:
        return f"Initiative {shown_name(outcome.get('name'), outcome['initiative'])}"
    if "start" in outcome and "stop" in outcome:
        which = "Full history" if outcome.get("kind") == "history" else "Recent days"
        return f"{which} export, {outcome['start']} to {outcome['stop']}"
    if "chunk" in outcome:
        return f"Campaigns, part {outcome['chunk']}"
    if "due" in outcome:
        return "What to send"
    if "batch" in outcome:
        return f"Batch {outcome['batch']}"
    if outcome.get("listing") == "incomplete":
        return "Campaign listing"
    return str(outcome.get("name") or "Item")


STATUS_WORDS = {
    "ok": "Done",
    "failed": "Failed",
    "incomplete": "Incomplete",
    "partial": "Partial",
    "deferred": "Deferred",
    "not_run": "Not run",
    "partly_refused": "Partly refused",
}


def _status_key(outcome: Mapping[str, Any]) -> str:
    """The outcome's status; derived where the outcome does not store one (an incomplete
    listing; a batch of the success push, whose counts say it)."""
    if outcome.get("status"):
        return str(outcome["status"])
    if outcome.get("listing"):
        return "incomplete"
    if "batch" in outcome:
        if not _int(outcome, "refused"):
            return "ok"
        return "partly_refused" if _int(outcome, "created") else "failed"
    return ""


def outcome_status(outcome: Mapping[str, Any]) -> str:
    status = _status_key(outcome)
    return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


def _changes(outcome: Mapping[str, Any], unit: str) -> list[str]:
    parts = []
    for key, verb in (
        ("created", "added"),
        ("updated", "updated"),
        ("unchanged", "unchanged"),
        ("removed", "marked removed"),
    ):
        if _int(outcome, key):
            parts.append(f"{_n(_int(outcome, key))} {unit}{verb}".replace("  ", " "))
    return parts


def _campaigns(outcome: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    campaigns = outcome.get("campaigns")
    return [c for c in campaigns if isinstance(c, Mapping)] if isinstance(campaigns, list) else []


@dataclass(frozen=True)
class UnknownCampaign:
    id: int
    name: str
    rows: int


@dataclass(frozen=True)
class UnknownOutcome:
    """Rows of a success push SAP MC may have created, and the campaigns they belong to."""

    rows: int
    campaigns: list[UnknownCampaign]


def unknown_outcome(outcomes: list[Mapping[str, Any]]) -> UnknownOutcome:
    """The rows of the run's batches whose outcome is unknown, by campaign (most rows first)."""
    rows, by_id = 0, dict[int, UnknownCampaign]()
    for outcome in outcomes:
        if "batch" not in outcome:
            continue
        rows += _int(outcome, "unknown")
        for c in _campaigns(outcome):
            if not isinstance(c.get("id"), int):
                continue
            seen = by_id.get(c["id"])
            count = _int(c, "rows") + (seen.rows if seen else 0)
            # A run before names were recorded as pages show them: by the bridge's number.
            name = shown_name(c.get("name"), f"#{c['id']}")
            by_id[c["id"]] = UnknownCampaign(c["id"], name, count)
    campaigns = sorted(by_id.values(), key=lambda c: (-c.rows, c.name))
    return UnknownOutcome(rows, campaigns)


def outcome_sentence(outcome: Mapping[str, Any]) -> str:
    """The outcome in words; zeros that tell nothing are left out, failures are not."""
    if outcome.get("status") == "not_run":
        return "Not started: the run stopped before it."
    if "held" in outcome:  # the success push's days held after a restore (sapmc.push)
        return (
            f"{plural(_int(outcome, 'held'), 'settled day', 'settled days')} held as of unknown "
            f"outcome after the restore from {outcome.get('restored_from') or 'a dump'}, "
            f"{_n(_int(outcome, 'already_sent'))} already in the ledger."
        )
    parts: list[str] = []
    if outcome.get("listing") == "incomplete":
        read, counted = _int(outcome, "read"), outcome.get("sap_count")
        parts.append(
            f"{plural(read, 'campaign', 'campaigns')} read"
            + (f" of the {_n(counted)} SAP MC counted" if isinstance(counted, int) else "")
            + "; none marked removed"
        )
        if _int(outcome, "duplicates"):
            parts.append(plural(_int(outcome, "duplicates"), "duplicate", "duplicates"))
        problems = outcome.get("problems") or []
        if problems:
            parts.append("; ".join(str(p) for p in problems[:3]))
    elif "rows" in outcome or "export" in outcome:  # a KPI export: rows of a CSV, days of KPIs
        if "rows" in outcome:
            parts.append(f"{plural(_int(outcome, 'rows'), 'row', 'rows')} read")
        for key, words in (
            ("rows_failed", ("row could not be read", "rows could not be read")),
            ("rows_ignored", ("row ignored", "rows ignored")),
        ):
            if _int(outcome, key):
                parts.append(plural(_int(outcome, key), *words))
        days = _int(outcome, "created") + _int(outcome, "updated") + _int(outcome, "zeroed")
        if "created" in outcome:
            parts.append(f"{plural(days, 'day', 'days')} updated")
        if _int(outcome, "zeroed"):
            parts.append(f"{_n(_int(outcome, 'zeroed'))} of them set to zero")
        if _int(outcome, "unchanged"):
            parts.append(f"{plural(_int(outcome, 'unchanged'), 'day', 'days')} unchanged")
        if _int(outcome, "kept"):
            parts.append(f"{plural(_int(outcome, 'kept'), 'stored day', 'stored days')} kept")
        if _int(outcome, "polls"):
            parts.append(f"ready after {plural(_int(outcome, 'polls'), 'poll', 'polls')}")
        if outcome.get("resumed_from_run"):
            parts.append(f"resumed the export of run #{outcome['resumed_from_run']}")
        if outcome.get("lost_export"):
            parts.append("Khoros had lost the earlier export; it was requested again")
    elif "due" in outcome:  # the success push's plan: which Plan-days go to SAP MC now
        parts.append(f"{plural(_int(outcome, 'due'), 'Plan-day', 'Plan-days')} to send")
        for key, said in (
            ("already_sent", "already sent"),
            ("waiting_to_settle", "waiting to settle"),
            ("changed_after_sending", "changed in Khoros after sending (not sent again)"),
            ("outcome_unknown", "of unknown outcome (not sent again until settled)"),
            ("removed_plan", "of Plans removed in Khoros before they settled (never sent)"),
        ):
            if _int(outcome, key):
                parts.append(f"{_n(_int(outcome, key))} {said}")
        if _int(outcome, "other_zone"):
            zone = str(outcome.get("timezone", "")).split(" (")[0] or "the company's"
            parts.append(
                f"{_n(_int(outcome, 'other_zone'))} counted in another time zone than {zone} "
                "(not sent until the KPI sync counts them again)"
            )
        if outcome.get("settled_before"):
            parts.append(f"days before {outcome['settled_before']} have settled")
        if outcome.get("timezone"):
            parts.append(f"days of {outcome['timezone']}")
    elif "batch" in outcome:  # one $batch request of the success push
        if "unknown" in outcome:  # sent, but SAP MC's answer never said what became of it
            names = ", ".join(str(c.get("name")) for c in _campaigns(outcome))
            parts.append(
                f"{plural(_int(outcome, 'unknown'), 'row', 'rows')} of unknown outcome: SAP MC "
                "may have created them; not sent again until a sync admin settles them on the "
                f"campaign page ({names})"
            )
        else:
            parts.append(f"{plural(_int(outcome, 'created'), 'row', 'rows')} created in SAP MC")
        if _int(outcome, "refused"):
            parts.append(f"{_n(_int(outcome, 'refused'))} refused")
    elif "plans" in outcome:
        parts.append(f"{plural(_int(outcome, 'plans'), 'Plan', 'Plans')} read")
        parts.extend(_changes(outcome, "") or (["nothing changed"] if "created" in outcome else []))
        if _int(outcome, "unreadable"):
            parts.append(f"{_n(_int(outcome, 'unreadable'))} could not be read (kept as mirrored)")
    else:
        parts.extend(_changes(outcome, "campaigns "))
    text = ", ".join(parts)
    text = (text[:1].upper() + text[1:]) if text else ""
    for extra in (outcome.get("note"), outcome.get("error")):
        if extra:
            text = f"{text}. {extra}" if text else str(extra)
    return text + ("." if text and not text.endswith(".") else "")


@dataclass(frozen=True)
class OutcomeRow:
    label: str
    status: str
    status_class: str
    sentence: str
    failed: bool


_STATUS_CLASS = {
    "ok": "succeeded",
    "failed": "failed",
    "incomplete": "partial",
    "partial": "partial",
    "partly_refused": "partial",
}


def outcome_rows(outcomes: list[Mapping[str, Any]]) -> list[OutcomeRow]:
    rows = []
    for outcome in outcomes:
        status = _status_key(outcome)
        rows.append(
            OutcomeRow(
                label=outcome_label(outcome),
                status=outcome_status(outcome),
                status_class=_STATUS_CLASS.get(status, "deferred" if status else ""),
                sentence=outcome_sentence(outcome),
                failed=bool(outcome.get("error")),
            )
        )
    return rows


def run_summary(outcomes: list[Mapping[str, Any]]) -> str:
    """One line for the whole run: "3 exports, 1,204 rows read, 12 days updated"."""
    exports = [o for o in outcomes if "start" in o and "stop" in o]
    initiatives = [o for o in outcomes if "initiative" in o]
    chunks = [o for o in outcomes if "chunk" in o]
    parts: list[str] = []
    if exports:
        parts.append(plural(len(exports), "export", "exports"))
        parts.append(f"{plural(sum(_int(o, 'rows') for o in exports), 'row', 'rows')} read")
        days = sum(_int(o, k) for o in exports for k in ("created", "updated", "zeroed"))
        parts.append(f"{plural(days, 'day', 'days')} updated")
    if initiatives:
        parts.append(plural(len(initiatives), "Initiative", "Initiatives"))
        parts.append(f"{plural(sum(_int(o, 'plans') for o in initiatives), 'Plan', 'Plans')} read")
    if chunks:
        read = sum(_int(o, k) for o in chunks for k in ("created", "updated", "unchanged"))
        parts.append(f"{plural(read, 'campaign', 'campaigns')} read")
    batches = [o for o in outcomes if "batch" in o]
    if batches:
        created = sum(_int(o, "created") for o in batches)
        parts.append(f"{plural(created, 'row', 'rows')} created in SAP MC")
        refused = sum(_int(o, "refused") for o in batches)
        if refused:
            parts.append(f"{_n(refused)} refused (sent again next run)")
        unknown = sum(_int(o, "unknown") for o in batches)
        if unknown:
            parts.append(f"{_n(unknown)} of unknown outcome (not sent again until settled)")
    # What failed is named ("1 batch failed"): a bare "1 failed" beside rows read as a row.
    failed: dict[tuple[str, str], int] = {}
    for o in outcomes:
        if o.get("status") in ("failed", "incomplete"):
            noun = _item_noun(o)
            failed[noun] = failed.get(noun, 0) + 1
    parts.extend(f"{plural(n, *noun)} failed" for noun, n in failed.items())
    return ", ".join(parts)


def _item_noun(outcome: Mapping[str, Any]) -> tuple[str, str]:
    """What one outcome is about, singular and plural, as run_summary counts it."""
    if "start" in outcome and "stop" in outcome:
        return ("export", "exports")
    if "initiative" in outcome:
        return ("Initiative", "Initiatives")
    if "chunk" in outcome:
        return ("part of the campaigns", "parts of the campaigns")
    if "batch" in outcome:
        return ("batch", "batches")
    if outcome.get("listing"):
        return ("listing", "listings")
    return ("step", "steps")
