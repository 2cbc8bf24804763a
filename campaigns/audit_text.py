"""An audit row's before/after read as changes a person follows: names, not keys or UUIDs.

The stored JSON keeps ids (rows outlive renames and are exported as CSV); the page shows one
line per field, "Campaign: Spring Sale → Summer", with Initiative keys turned into names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from campaigns.templatetags.workbench import state_text

# Keys that only identify (UUIDs, ids): the names next to them say the same to a person.
HIDDEN = {"plan", "campaign", "campaign_id", "undoes", "sap_uuid", "plan_id"}
LABELS = {
    "plan_name": "Plan",
    "campaign_name": "Campaign",
    "note": "Note",
    "plans": "Plans",
    "kept": "Kept as the bridge has it",
    "user": "User",
    "initiative": "Initiative",
    "minutes": "Every (min)",
    "enabled": "On",
}


@dataclass(frozen=True)
class Change:
    label: str
    old: str | None
    new: str | None

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.label}: {self.new}"
        if self.new is None:
            return f"{self.label}: {self.old} → –"
        if self.old == self.new:
            return f"{self.label}: {self.new}"
        return f"{self.label}: {self.old} → {self.new}"


def initiative_keys(states: Iterable[Mapping | None]) -> set[str]:
    return {str(s["initiative"]) for s in states if isinstance(s, Mapping) and s.get("initiative")}


def _text(key: str, value: object, initiative_names: Mapping[str, str]) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "initiative":
        return initiative_names.get(str(value), str(value))
    if isinstance(value, list | tuple):
        return "; ".join(state_text(v) for v in value) or "none"
    return str(value)


def audit_changes(
    before: Mapping | None, after: Mapping | None, initiative_names: Mapping[str, str]
) -> list[Change]:
    """One Change per shown field, in the order the row stored them."""
    b = before if isinstance(before, Mapping) else {}
    a = after if isinstance(after, Mapping) else {}
    changes = []
    for key in dict.fromkeys([*b, *a]):
        if key in HIDDEN:
            continue
        label = LABELS.get(key, key.replace("_", " ").capitalize())
        old = _text(key, b[key], initiative_names) if key in b and before is not None else None
        new = _text(key, a[key], initiative_names) if key in a and after is not None else None
        changes.append(Change(label, old, new))
    return changes
