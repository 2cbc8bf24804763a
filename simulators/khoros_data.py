"""Seeded, deterministic Khoros data (initiatives, plans, posts) for the simulator and tests."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Field catalogue served by GET /v2/analytics/export/posts/fields (the real one is not public).
FIELD_NAMES: dict[int, str] = {
    101: "Impressions",
    102: "Engagements",
    103: "Clicks",
    104: "Reach",
    105: "Video Views",
}
FIELD_IDS: tuple[int, ...] = tuple(FIELD_NAMES)
# Fields that place a post rather than measure it (the bridge's KHOROS_EXPORT_FIELD_* defaults).
POST_ID_FIELD = 11
PLAN_FIELD = 12
PUBLISHED_FIELD = 13
INITIATIVE_FIELD = 14
# The export CSV's header labels: Khoros writes its own names, not the bridge's nor always the
# catalogue's, so the bridge reads columns by their requested position.
COLUMN_LABELS: dict[int, str] = {
    POST_ID_FIELD: "Post ID",
    PLAN_FIELD: "Plan",
    PUBLISHED_FIELD: "Published Date",
    INITIATIVE_FIELD: "Initiative",
    101: "Impressions",
    102: "Total Engagements",
    103: "Link Clicks",
    104: "Reach",
    105: "Video Views",
}

# Plans whose position is a multiple of this lack every optional V1 field (color, overview, ...).
SPARSE_PLAN_EVERY = 7
# Initiatives whose position is a multiple of this have no description.
SPARSE_INITIATIVE_EVERY = 4
FIRST_INITIATIVE_ID = 1710
# Post ids are POST_ID_BASE + plan.seq * POST_ID_STRIDE + n, so posts_per_plan stays below it.
POST_ID_BASE = 1_000_000_000
POST_ID_STRIDE = 100_000

_INITIATIVE_THEMES = (
    "Brand", "Retail", "Loyalty", "Product Launch", "Careers", "Community", "Holiday",
    "Sustainability", "Partners", "Support",
)  # fmt: skip
_PLAN_THEMES = (
    "Grow the Following", "Spring Sale", "Back to School", "Holiday Push", "Product Teaser",
    "Customer Stories", "Webinar Series", "Brand Awareness", "Summer Giveaway", "Event Recap",
    "Feature Friday", "Launch Countdown",
)  # fmt: skip
_COLORS = ("#1a7293", "#e4572e", "#17bebb", "#ffc914", "#76b041", "#7d5ba6", "#2e294e")


def zone(name: str | ZoneInfo) -> ZoneInfo:
    """Return a ZoneInfo for an IANA name (or pass one through)."""
    return name if isinstance(name, ZoneInfo) else ZoneInfo(name)


def local_midnight_ms(day: date, tz: ZoneInfo) -> int:
    """Epoch ms of 00:00:00.000 local time on day."""
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()) * 1000


def local_day_end_ms(day: date, tz: ZoneInfo) -> int:
    """Epoch ms of the last millisecond of day in local time (Khoros end dates are inclusive)."""
    # Next midnight minus 1 ms stays right on DST days, where a local day is 23 or 25 hours.
    return local_midnight_ms(day + timedelta(days=1), tz) - 1


@dataclass(frozen=True)
class Initiative:
    id: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class Plan:
    id: str
    initiative_id: str
    name: str
    start_date: date
    end_date: date
    start_ms: int
    end_ms: int
    color: str | None = None
    overview: str | None = None
    objective: str | None = None
    target_audience: str | None = None
    created_ms: int | None = None
    last_modified_ms: int | None = None
    # Seeds the plan's posts; unique per data set and stable across renames.
    seq: int = 0


@dataclass(frozen=True)
class Post:
    post_id: str
    plan_id: str
    initiative_id: str
    published_at: datetime  # aware, UTC
    metrics: Mapping[int, int] = field(default_factory=dict)


@dataclass
class KhorosData:
    """One company's Khoros content; posts are generated per plan on first use."""

    seed: int
    company_id: str
    company_name: str
    timezone: str
    today: date
    posts_per_plan: int
    user_email: str = "demo.user@example.com"
    # False: posts are generated again on every read instead of kept, so that a big export
    # (a million rows, for the benchmarks) costs time, not memory. Same posts either way.
    cache_posts: bool = True
    # True (the demo): a running Plan has posted its share for the days it has run, not all
    # posts_per_plan. Off by default: tests and benchmarks count posts_per_plan per Plan.
    posts_pro_rata: bool = False
    _initiatives: dict[str, Initiative] = field(default_factory=dict, repr=False)
    _plans: dict[str, Plan] = field(default_factory=dict, repr=False)
    _posts: dict[str, list[Post]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def generate(
        cls,
        seed: int = 1,
        initiatives: int = 5,
        plans_per_initiative: int = 8,
        posts_per_plan: int = 20,
        company_id: str = "389",
        company_name: str = "Acme",
        timezone: str = "America/Chicago",
        today: date | None = None,
        posts_pro_rata: bool = False,
    ) -> KhorosData:
        """Build a deterministic data set; today defaults to the current date in timezone."""
        if not 0 <= posts_per_plan < POST_ID_STRIDE:
            raise ValueError(f"posts_per_plan must be in [0, {POST_ID_STRIDE})")
        tz = zone(timezone)
        if today is None:
            today = datetime.now(tz).date()
        data = cls(
            seed=seed,
            company_id=str(company_id),
            company_name=company_name,
            timezone=timezone,
            today=today,
            posts_per_plan=posts_per_plan,
            posts_pro_rata=posts_pro_rata,
        )
        rng = random.Random(seed)
        for i in range(initiatives):
            theme = _INITIATIVE_THEMES[i % len(_INITIATIVE_THEMES)]
            initiative_id = str(FIRST_INITIATIVE_ID + i)
            plans = [
                data._add_generated_plan(rng, initiative_id, j) for j in range(plans_per_initiative)
            ]
            # The year in the name is the year most of its Plans start in, so names and dates
            # agree; a theme used again gets a number instead of another (wrong) year.
            starts = Counter(p.start_date.year for p in plans)
            year = max(starts, key=lambda y: (starts[y], -y)) if starts else today.year
            round_ = i // len(_INITIATIVE_THEMES)
            name = f"{theme} {year}" + (f" ({round_ + 1})" if round_ else "")
            description = (
                None
                if i % SPARSE_INITIATIVE_EVERY == SPARSE_INITIATIVE_EVERY - 1
                else f"{theme} conversations and the accounts that carry them."
            )
            initiative = Initiative(id=initiative_id, name=name, description=description)
            data._initiatives[initiative.id] = initiative
        return data

    def _add_generated_plan(self, rng: random.Random, initiative_id: str, j: int) -> Plan:
        seq = len(self._plans)
        duration = rng.randint(7, 60)
        # A third each of ended, running and upcoming plans, so every status is represented.
        phase = seq % 3
        if phase == 0:
            end = self.today - timedelta(days=rng.randint(1, 90))
            start = end - timedelta(days=duration - 1)
        elif phase == 1:
            start = self.today - timedelta(days=rng.randint(0, duration - 1))
            end = start + timedelta(days=duration - 1)
        else:
            start = self.today + timedelta(days=rng.randint(1, 60))
            end = start + timedelta(days=duration - 1)
        theme = rng.choice(_PLAN_THEMES)
        plan_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        color = rng.choice(_COLORS)
        tz = zone(self.timezone)
        start_ms = local_midnight_ms(start, tz)
        created_ms = start_ms - rng.randint(3, 30) * 86_400_000 + rng.randint(0, 86_399_999)
        # Upcoming plans were still created in the past.
        created_ms = min(created_ms, local_midnight_ms(self.today, tz) - rng.randint(1, 86_400_000))
        sparse = seq % SPARSE_PLAN_EVERY == SPARSE_PLAN_EVERY - 1
        plan = Plan(
            id=plan_id,
            initiative_id=initiative_id,
            name=f"{theme} {j + 1}",
            start_date=start,
            end_date=end,
            start_ms=start_ms,
            end_ms=local_day_end_ms(end, tz),
            color=None if sparse else color,
            overview=None if sparse else f"{theme}: reach new people on every channel.",
            objective=None if sparse else f"Lift engagements for {theme.lower()} by 10%.",
            target_audience=None if sparse else "Followers aged 18-34",
            created_ms=None if sparse else created_ms,
            last_modified_ms=None if sparse else created_ms + rng.randint(0, 2) * 86_400_000,
            seq=seq,
        )
        self._plans[plan.id] = plan
        return plan

    # Reads ---------------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def initiatives(self) -> list[Initiative]:
        return list(self._initiatives.values())

    @property
    def plans(self) -> list[Plan]:
        return list(self._plans.values())

    def initiative(self, initiative_id: str | int) -> Initiative | None:
        return self._initiatives.get(str(initiative_id))

    def plan(self, plan_id: str) -> Plan | None:
        return self._plans.get(plan_id)

    def plans_for_initiative(self, initiative_id: str | int) -> list[Plan]:
        key = str(initiative_id)
        return [p for p in self._plans.values() if p.initiative_id == key]

    def posts_for_plan(self, plan_id: str) -> list[Post]:
        """Posts of one plan, ordered by publication time (generated on first call)."""
        plan = self._plans.get(plan_id)
        if plan is None:
            return []
        if not self.cache_posts:
            return self._generate_posts(plan)
        with self._lock:
            posts = self._posts.get(plan_id)
            if posts is None:
                posts = self._posts[plan_id] = self._generate_posts(plan)
            return posts

    @property
    def posts(self) -> list[Post]:
        """Every post of every plan (generates them all; prefer posts_for_plan on big sets)."""
        return [post for plan_id in list(self._plans) for post in self.posts_for_plan(plan_id)]

    def iter_posts(self, plan_ids: Iterable[str] | None = None) -> Iterable[Post]:
        for plan_id in list(self._plans) if plan_ids is None else plan_ids:
            yield from self.posts_for_plan(plan_id)

    def daily_totals(
        self, timezone: str | ZoneInfo | None = None, *, plan_ids: Iterable[str] | None = None
    ) -> dict[tuple[str, date], dict[int, int]]:
        """Sum every field per (plan id, local day in timezone), as an export would report it."""
        tz = zone(timezone or self.timezone)
        totals: dict[tuple[str, date], dict[int, int]] = {}
        for post in self.iter_posts(plan_ids):
            key = (post.plan_id, post.published_at.astimezone(tz).date())
            bucket = totals.get(key)
            if bucket is None:
                bucket = totals[key] = dict.fromkeys(FIELD_IDS, 0)
            for field_id, value in post.metrics.items():
                bucket[field_id] += value
        return totals

    def _generate_posts(self, plan: Plan) -> list[Post]:
        # Only days that have happened carry posts: upcoming plans have none.
        last = min(plan.end_date, self.today)
        if last < plan.start_date or self.posts_per_plan == 0:
            return []
        days = (last - plan.start_date).days + 1
        # A running Plan has posted for the days it has run, not its whole lot: one that started
        # today has a day's share of posts (at least one), not a month's.
        duration = (plan.end_date - plan.start_date).days + 1
        count = self.posts_per_plan
        if self.posts_pro_rata and last < plan.end_date:
            count = max(1, -(-self.posts_per_plan * days // duration))
        tz = self.tz
        # One generator per plan, seeded by (seed, seq), keeps each plan's posts independent of
        # which other plans exist or in what order they are generated.
        rng = random.Random(self.seed * 1_000_003 + plan.seq)
        rand = rng.random
        posts: list[Post] = []
        for n in range(count):
            day = plan.start_date + timedelta(days=int(rand() * days))
            second = int(rand() * 86_400)
            local = datetime(
                day.year, day.month, day.day, second // 3600, second // 60 % 60, second % 60,
                tzinfo=tz,
            )  # fmt: skip
            impressions = 100 + int(rand() * 4_900)
            engagements = int(rand() * impressions / 10)
            posts.append(
                Post(
                    post_id=str(POST_ID_BASE + plan.seq * POST_ID_STRIDE + n + 1),
                    plan_id=plan.id,
                    initiative_id=plan.initiative_id,
                    published_at=local.astimezone(UTC),
                    metrics={
                        101: impressions,
                        102: engagements,
                        103: int(rand() * (engagements + 1)),
                        104: impressions // 2 + int(rand() * (impressions // 2)),
                        105: int(rand() * impressions / 3),
                    },
                )
            )
        posts.sort(key=lambda p: (p.published_at, p.post_id))
        return posts

    # Writes (used by the simulator's mutation helpers) -----------------------------------------

    def clone(self) -> KhorosData:
        """Independent copy: entities are immutable, so shallow copies of the indexes suffice."""
        with self._lock:
            posts = dict(self._posts)
        return replace(
            self,
            _initiatives=dict(self._initiatives),
            _plans=dict(self._plans),
            _posts=posts,
            _lock=threading.Lock(),
        )

    def rename_plan(self, plan_id: str, new_name: str) -> Plan:
        plan = replace(self._require_plan(plan_id), name=new_name)
        self._plans[plan_id] = plan
        return plan

    def change_plans(self, fraction: float, *, tag: str = "edited") -> list[Plan]:
        """Rename every n-th Plan so that `fraction` of them change (a sync's "some changed")."""
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        step = max(1, round(1 / fraction))
        changed = [
            self.rename_plan(plan.id, f"{plan.name} ({tag})")
            for index, plan in enumerate(list(self._plans.values()))
            if index % step == 0
        ]
        return changed

    def update_plan(self, plan_id: str, **fields: Any) -> Plan:
        """Replace fields of a plan; start_date/end_date recompute start_ms/end_ms."""
        plan = self._require_plan(plan_id)
        plan = replace(plan, **self._plan_fields(plan.initiative_id, fields, base=plan))
        self._plans[plan_id] = plan
        with self._lock:
            self._posts.pop(plan_id, None)  # dates may have moved: regenerate lazily
        return plan

    def remove_plan(self, plan_id: str) -> Plan:
        plan = self._require_plan(plan_id)
        del self._plans[plan_id]
        with self._lock:
            self._posts.pop(plan_id, None)
        return plan

    def add_plan(self, initiative_id: str | int, **fields: Any) -> Plan:
        """Append a plan; defaults: a 30-day plan starting today with a fresh uuid."""
        initiative_id = str(initiative_id)
        if initiative_id not in self._initiatives:
            raise KeyError(f"unknown initiative {initiative_id}")
        seq = max((p.seq for p in self._plans.values()), default=-1) + 1
        defaults: dict[str, Any] = {
            "id": str(
                uuid.UUID(int=random.Random(f"{self.seed}:{seq}").getrandbits(128), version=4)
            ),
            "name": f"New plan {seq + 1}",
            "start_date": self.today,
            "end_date": self.today + timedelta(days=29),
            "color": _COLORS[seq % len(_COLORS)],
        }
        values = self._plan_fields(initiative_id, {**defaults, **fields})
        plan = Plan(initiative_id=initiative_id, seq=seq, **values)
        if plan.id in self._plans:
            raise ValueError(f"plan {plan.id} already exists")
        self._plans[plan.id] = plan
        return plan

    def _plan_fields(
        self, initiative_id: str, fields: dict[str, Any], base: Plan | None = None
    ) -> dict[str, Any]:
        values = dict(fields)
        for forbidden in ("initiative_id", "seq", "start_ms", "end_ms"):
            if forbidden in values:
                raise TypeError(f"{forbidden} is derived; pass start_date/end_date instead")
        tz = self.tz
        start = values.get("start_date", base.start_date if base else None)
        end = values.get("end_date", base.end_date if base else None)
        if start is None or end is None:
            raise TypeError("start_date and end_date are required")
        if end < start:
            raise ValueError("end_date is before start_date")
        values["start_ms"] = local_midnight_ms(start, tz)
        values["end_ms"] = local_day_end_ms(end, tz)
        return values

    def add_initiative(self, name: str, description: str | None = None) -> Initiative:
        next_id = max((int(i) for i in self._initiatives), default=FIRST_INITIATIVE_ID - 1) + 1
        initiative = Initiative(id=str(next_id), name=name, description=description)
        self._initiatives[initiative.id] = initiative
        return initiative

    def remove_initiative(self, initiative_id: str | int) -> Initiative:
        """Remove an initiative and its plans (Khoros hides a plan with its initiative)."""
        key = str(initiative_id)
        if key not in self._initiatives:
            raise KeyError(f"unknown initiative {key}")
        for plan in self.plans_for_initiative(key):
            self.remove_plan(plan.id)
        return self._initiatives.pop(key)

    def _require_plan(self, plan_id: str) -> Plan:
        plan = self._plans.get(plan_id)
        if plan is None:
            raise KeyError(f"unknown plan {plan_id}")
        return plan
