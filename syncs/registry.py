"""The one registry of sync kinds, filled by the system apps when Django starts.

A kind is declared once, in its own app (khoros/, campaigns/): its stored value, its label, the
service every entry point calls, the factory of its client and the setting of its schedule's
interval. The engine reads this registry and never imports a system app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class SyncKind:
    # The value stored in SyncRun.kind: never change it, rows hold it.
    value: str
    # The constant's name, for `SyncRun.Kind.NAME`.
    name: str
    label: str
    # The one service behind the kind: service(run=, trigger=, requested_by=, on_progress=).
    service: Callable[..., Any]
    # Builds the client from settings; a failure ends the run with "<system> client ...".
    client_factory: Callable[[], Any]
    # The name of the external system in messages ("Khoros", "SAP MC").
    system: str
    # The setting that holds the schedule's interval in minutes.
    interval_setting: str
    # Whether the kind is switched on (a setting); off, its freshness is not a health problem.
    enabled: Callable[[], bool] | None = None

    @property
    def is_enabled(self) -> bool:
        return self.enabled is None or self.enabled()

    def __str__(self) -> str:
        return self.label


_kinds: dict[str, SyncKind] = {}
_secrets: list[str] = []
_alert_recipients: list[Callable[[], list[str]]] = []
# The django-q2 task behind every kind: the buttons queue it, the schedules call it.
SYNC_TASK = "syncs.tasks.sync_task"

# kind value -> the kinds requested after each of its successful runs, with their condition.
_follow_ups: dict[str, list[tuple[str, Callable[[], bool]]]] = {}


@dataclass(frozen=True)
class MaintenanceSchedule:
    """A plain schedule an app declares (housekeeping, not a sync): installed with the others."""

    name: str
    # The dotted path django-q2 calls.
    func: str
    # The setting that holds its interval in minutes.
    interval_setting: str


_maintenance: dict[str, MaintenanceSchedule] = {}


def register(
    *,
    value: str,
    name: str,
    label: str,
    service: Callable[..., Any],
    client_factory: Callable[[], Any],
    system: str,
    interval_setting: str,
    enabled: Callable[[], bool] | None = None,
) -> SyncKind:
    """Declare a sync kind; called from its app's ready(). Registering it again replaces it."""
    kind = SyncKind(
        value=value,
        name=name,
        label=label,
        service=service,
        client_factory=client_factory,
        system=system,
        interval_setting=interval_setting,
        enabled=enabled,
    )
    clash = next((k for k in _kinds.values() if k.name == name and k.value != value), None)
    if clash is not None:
        raise ImproperlyConfigured(f"Sync kinds {clash.value!r} and {value!r} share name {name}")
    _kinds[value] = kind
    return kind


def register_secrets(*setting_names: str) -> None:
    """Name settings whose values never reach a run's record (redact() removes them)."""
    for name in setting_names:
        if name not in _secrets:
            _secrets.append(name)


def register_alert_recipients(func: Callable[[], list[str]]) -> None:
    """Who gets the alert emails when ALERT_EMAILS is empty (the app that knows the roles)."""
    if func not in _alert_recipients:
        _alert_recipients.append(func)


def register_follow_up(*, after: str, kind: str, when: Callable[[], bool] = lambda: True) -> None:
    """Request a run of `kind` each time a run of `after` succeeds (and `when()` holds).

    The app of `kind` declares it, so the app of `after` never imports it (the SAP MC push
    follows the Khoros KPI sync without khoros knowing about SAP MC).
    """
    entries = _follow_ups.setdefault(after, [])
    entries[:] = [(k, w) for k, w in entries if k != kind]
    entries.append((kind, when))


def follow_ups(value: str) -> list[str]:
    """The kinds to request after a successful run of `value`, whose conditions hold now."""
    return [kind for kind, when in _follow_ups.get(value, []) if when()]


def register_schedule(*, name: str, func: str, interval_setting: str) -> MaintenanceSchedule:
    """Declare a housekeeping schedule; `setup_schedules` installs it. Again: replaces it."""
    schedule = MaintenanceSchedule(name=name, func=func, interval_setting=interval_setting)
    _maintenance[name] = schedule
    return schedule


def maintenance_schedules() -> list[MaintenanceSchedule]:
    return list(_maintenance.values())


@dataclass(frozen=True)
class Pruner:
    """One app's deletion of what it no longer needs, run by the "Housekeeping" schedule."""

    # What it deletes, in the schedule's result and the log ("expired sessions").
    name: str
    # Deletes (in bounded batches) and returns the number of rows deleted.
    func: Callable[[], int]


_pruners: dict[str, Pruner] = {}


def register_pruner(*, name: str, func: Callable[[], int]) -> Pruner:
    """Declare a pruning the housekeeping runs (from the owning app's ready()). Again: replaces."""
    pruner = Pruner(name=name, func=func)
    _pruners[name] = pruner
    return pruner


def pruners() -> list[Pruner]:
    """Every registered pruning, in the order the apps registered them."""
    return list(_pruners.values())


def secret_settings() -> tuple[str, ...]:
    return tuple(_secrets)


def alert_recipient_sources() -> tuple[Callable[[], list[str]], ...]:
    return tuple(_alert_recipients)


def kinds() -> list[SyncKind]:
    """Every registered kind, in the order the apps registered them."""
    return list(_kinds.values())


def get(value: str) -> SyncKind:
    """The kind stored as `value`; KeyError when no app registered it."""
    return _kinds[value]


def is_registered(value: str) -> bool:
    return value in _kinds


def kind_label(value: str) -> str:
    """The kind's name for people ("Khoros plans"), or its key if no app registers it now."""
    kind = _kinds.get(value)
    return kind.label if kind is not None else value


def kind_choices() -> list[tuple[str, str]]:
    """Choices of SyncRun.kind: evaluated when used, so the apps have registered by then."""
    return [(k.value, k.label) for k in _kinds.values()]


class KindNamespace:
    """`SyncRun.Kind`: the registered kinds, read like the TextChoices they replace.

    `SyncRun.Kind.KHOROS_PLANS` is the stored value ("khoros_plans"), `SyncRun.Kind(value)` the
    SyncKind, `.choices` / `.values` / `.labels` as on TextChoices.
    """

    def __getattr__(self, name: str) -> str:
        if name.isupper():
            for kind in _kinds.values():
                if kind.name == name:
                    return kind.value
        raise AttributeError(f"No sync kind named {name} is registered")

    def __call__(self, value: str) -> SyncKind:
        try:
            return _kinds[value]
        except KeyError:
            raise ValueError(f"{value!r} is not a registered sync kind") from None

    def __iter__(self) -> Iterator[SyncKind]:
        return iter(list(_kinds.values()))

    @property
    def choices(self) -> list[tuple[str, str]]:
        return kind_choices()

    @property
    def values(self) -> list[str]:
        return list(_kinds)

    @property
    def labels(self) -> list[str]:
        return [k.label for k in _kinds.values()]


def redact(text: str) -> str:
    """Remove every registered secret (syncs.register_secrets) from a text before it is kept."""
    for name in secret_settings():
        secret = getattr(settings, name, "")
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
