"""An audit row's before/after read as changes a person follows: names, not keys or UUIDs.

The stored JSON keeps ids (rows outlive renames and are exported as CSV); the page shows one
line per field. A field that changed reads "Campaign: Spring Sale → Summer"; a field that did
not reads "Plan: Spring Sale social", without an arrow. A row's `after` may hold only what
changed (a settled success push stores its new status), so a field missing from it is unchanged,
not removed. A user or group edited in the Django admin shows only what changed, after its
name ("Username: tom", "Active: yes → no"). A row without a before (an assignment, a grant)
or an after (an unassignment, a revoked grant) shows the state it created or removed, its
action saying which. Fields empty on both sides are left out. Drift rows read one line per
Plan: "Summer Giveaway 12: no campaign → Careers 2026".
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from campaigns.models import AuditEvent
from khoros.models import Initiative
from sapmc.models import ExternalCampaign, SuccessSent
from smcbridge.names import shown_name

# Keys that only identify (UUIDs, ids): the names next to them say the same to a person.
HIDDEN = {"plan", "campaign", "campaign_id", "undoes", "sap_uuid", "plan_id"}
LABELS = {
    "plan_name": "Plan",
    "campaign_name": "Campaign",
    "note": "Note",
    "kept": "Kept as the bridge has it",
    "user": "User",
    "initiative": "Initiative",
    "minutes": "Every (min)",
    "enabled": "On",
    "is_active": "Active",
    "is_staff": "Staff",
    "is_superuser": "Superuser",
    "usable": "Password usable",
    "username": "Username",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "groups": "Groups",
    "permissions": "Permissions",
    "name": "Name",
}
# Rows of an account or group edited in the Django admin store its whole state on both sides;
# they show what changed and, as context, only whom it was (not every field that stayed).
CHANGED_ONLY: dict[str, str] = {
    AuditEvent.Action.USER_UPDATE: "username",
    AuditEvent.Action.GROUP_UPDATE: "name",
}
NO_CAMPAIGN = "no campaign"
# The order fields are shown in; others follow by name. Not the stored order: PostgreSQL's jsonb
# keeps a row's keys in an order of its own (shorter keys first), SQLite as written.
ORDER = [
    "plan_name", "campaign_name", "user", "initiative", "day", "status", "message", "minutes",
    "enabled", "note", "run", "username", "name", "first_name", "last_name", "email",
    "is_active", "is_staff", "is_superuser", "groups", "permissions",
]  # fmt: skip


def field_label(key: str) -> str:
    """A stored key as a person reads it: "is_active" -> "Active"."""
    return LABELS.get(key, key.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Change:
    label: str
    old: str | None  # None: unchanged (or created or removed with the row), shown alone
    new: str

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.label}: {self.new}"
        return f"{self.label}: {self.old} → {self.new}"


@dataclass(frozen=True)
class Names:
    """What rows keep by key, by name: Initiatives by Khoros id, campaigns by SAP MC id."""

    initiatives: Mapping[str, str] = field(default_factory=dict)
    campaigns: Mapping[str, str] = field(default_factory=dict)


def initiative_keys(states: Iterable[Mapping | None]) -> set[str]:
    return {str(s["initiative"]) for s in states if isinstance(s, Mapping) and s.get("initiative")}


def _kept(plans: object) -> list[Mapping]:
    """The Plans of a "keep the bridge's side" row (they name campaigns by SAP MC id only)."""
    if not isinstance(plans, list):
        return []
    return [p for p in plans if isinstance(p, Mapping) and "sap_campaigns" in p]


def _kept_campaign_ids(states: Iterable[Mapping | None]) -> set[str]:
    ids: set[str] = set()
    for state in states:
        if isinstance(state, Mapping):
            for plan in _kept(state.get("plans")):
                ids.update(str(i) for i in plan.get("sap_campaigns") or [])
                if plan.get("bridge_campaign"):
                    ids.add(str(plan["bridge_campaign"]))
    return ids


def audit_names(events: Sequence[AuditEvent]) -> Names:
    """The names these rows need: one query per kind of key, none when no row needs it."""
    states = [s for e in events for s in (e.before, e.after)]
    keys, ids = initiative_keys(states), _kept_campaign_ids(states)
    named = Initiative.objects.filter(khoros_id__in=keys).values_list("khoros_id", "name")
    initiatives = {key: shown_name(name, key) for key, name in named} if keys else {}
    campaigns: dict[str, str] = {}
    if ids:
        rows = ExternalCampaign.objects.filter(campaign_id__in=ids).values_list(
            "campaign_id", "name", "removed_at"
        )
        for campaign_id, name, removed_at in rows:
            # An SAP MC id reused after a removal: the live campaign's name.
            if removed_at is None or campaign_id not in campaigns:
                campaigns[campaign_id] = shown_name(name, campaign_id)
    return Names(initiatives, campaigns)


def plan_name_of(state: Mapping) -> str:
    """The Plan of a stored state as pages show it (smcbridge.names), by the Khoros id kept
    beside its name."""
    key = state.get("plan")
    with contextlib.suppress(ValueError):  # not a Khoros id: shown as stored
        key = uuid.UUID(str(key)).hex
    return shown_name(state.get("plan_name"), key)


def campaign_name_of(state: Mapping) -> str:
    """The campaign of a stored state as pages show it, by the SAP MC ID kept beside its name."""
    return shown_name(state.get("campaign_name"), state.get("campaign_id"))


def _shown(state: Mapping) -> dict:
    """A stored state with its names as pages show them: the JSON keeps what was sent."""
    shown = dict(state)
    if "plan_name" in shown:
        shown["plan_name"] = plan_name_of(state)
    if "campaign_name" in shown:
        shown["campaign_name"] = campaign_name_of(state)
    return shown


def _empty(value: object) -> bool:
    return value is None or value == "" or value == []


def _text(action: str, key: str, value: object, names: Names) -> str:
    if _empty(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "initiative":
        return names.initiatives.get(str(value), str(value))
    if key == "status" and action == AuditEvent.Action.PUSH_RESOLVE:
        # The ledger's own words, as the campaign page shows them ("due again" is no status).
        return str(dict(SuccessSent.Status.choices).get(str(value), value))
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def _campaign_ref(campaign_id: object, names: Names) -> str:
    name = names.campaigns.get(str(campaign_id))
    if name is None:
        return f"campaign {campaign_id}"
    return name if name == shown_name("", campaign_id) else f"{name} ({campaign_id})"


def _kept_line(plan: Mapping, names: Names) -> Change:
    bridge = plan.get("bridge_campaign")
    here = f"stays under {_campaign_ref(bridge, names)}" if bridge else "stays unassigned"
    sap = [_campaign_ref(i, names) for i in plan.get("sap_campaigns") or []]
    there = f"not under {' or '.join(sap)} as in SAP MC" if sap else "under none in SAP MC"
    return Change(plan_name_of(plan), None, f"{here}, {there}")


def _change(label: str, old: str, new: str, old_id: object, new_id: object) -> Change:
    """`old → new`, with the campaigns' SAP MC ids when two campaigns share a name."""
    if old == new and old_id != new_id:
        return Change(label, f"{old} ({old_id})", f"{new} ({new_id})")
    return Change(label, old, new)


def _where(plan: Mapping) -> str:
    return campaign_name_of(plan) if plan.get("campaign") else NO_CAMPAIGN


def _plan_lines(before: object, after: object) -> list[Change]:
    """One line per Plan of an adoption or its undo: "Plan: from → to"."""
    olds = [p for p in before if isinstance(p, Mapping)] if isinstance(before, list) else []
    news = [p for p in after if isinstance(p, Mapping)] if isinstance(after, list) else []
    new_by_plan = {p.get("plan") or p.get("plan_name"): p for p in news}
    lines, seen = [], set()
    for old in olds:
        key = old.get("plan") or old.get("plan_name")
        seen.add(key)
        label, new = plan_name_of(old), new_by_plan.get(key)
        if new is None or (old.get("campaign"), _where(old)) == (new.get("campaign"), _where(new)):
            lines.append(Change(label, None, _where(old)))
        else:
            ids = old.get("campaign_id"), new.get("campaign_id")
            lines.append(_change(label, _where(old), _where(new), *ids))
    lines += [
        Change(plan_name_of(p), None, _where(p))
        for p in news
        if (p.get("plan") or p.get("plan_name")) not in seen
    ]
    return lines


def _changed(key: str, old: Mapping, new: Mapping) -> bool:
    if key == "campaign_name" and "campaign" in old and "campaign" in new:
        # Two campaigns may share a name: the key says whether the campaign changed.
        return old["campaign"] != new["campaign"] or old[key] != new[key]
    return (None if _empty(old[key]) else old[key]) != (None if _empty(new[key]) else new[key])


def audit_changes(
    action: str, before: Mapping | None, after: Mapping | None, names: Names
) -> list[Change]:
    """One Change per shown field, in ORDER."""
    b = _shown(before) if isinstance(before, Mapping) else {}
    a = _shown(after) if isinstance(after, Mapping) else {}
    kept = _kept(b.get("plans"))
    if kept:  # "kept" names the same Plans again
        changes = [_kept_line(p, names) for p in kept]
    elif "plans" in b or "plans" in a:
        changes = _plan_lines(b.get("plans"), a.get("plans"))
    else:
        changes = []
    # A row that created or removed its whole state has nothing to compare.
    both = isinstance(before, Mapping) and isinstance(after, Mapping)
    context = CHANGED_ONLY.get(action) if both else None
    for key in sorted({*b, *a}, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k)):
        if key in HIDDEN or key == "plans" or (kept and key == "kept"):
            continue
        label = field_label(key)
        if both and key in b and key in a and _changed(key, b, a):
            old, new = _text(action, key, b[key], names), _text(action, key, a[key], names)
            changes.append(_change(label, old, new, b.get("campaign_id"), a.get("campaign_id")))
            continue
        if context is not None and key != context:
            continue
        value = a[key] if key in a else b[key]
        if not _empty(value):
            changes.append(Change(label, None, _text(action, key, value, names)))
    return changes
