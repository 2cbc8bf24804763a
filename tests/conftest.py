"""Fixtures shared by the whole suite: live simulators on loopback and a real task queue."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing import Event, Queue, Value
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis
import pytest

# The small mirrored world (Initiatives, Plans, campaigns, three people) of every app's tests.
from tests.world import world  # noqa: F401

# Playwright's sync API runs an event loop in the test thread; Django's ORM guard would refuse
# every query made from a test that uses it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

KHOROS_TOKEN = "test-token-5ec7e7-do-not-leak"


def _own_task_queue_per_xdist_worker() -> None:
    """Give each pytest-xdist worker a Redis queue of its own (a key prefix, same Redis db).

    Two workers on one queue would purge and run each other's tasks. django-q2 reads the queue
    name when a broker is made, so setting it here holds for this process; the environment
    variable carries it to the `manage.py qcluster` a test starts.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    from django_q.conf import Conf

    name = f"{Conf.PREFIX}-{worker}"
    Conf.CLUSTER_NAME = name
    os.environ["Q_CLUSTER_NAME"] = name


_own_task_queue_per_xdist_worker()


def _live_server_sends_at_once() -> None:
    """Send each answer of the tests' live server without waiting (TCP_NODELAY).

    Django's test server keeps connections open and writes an answer's headers and body
    separately: with Nagle's algorithm the body then waited for the client's delayed ACK, about
    40 ms on every request of a kept-alive connection (a browser's, schemathesis's), against
    4-6 ms on a new one. The tests waited for it, idle: schemathesis's run took 16 s instead of
    6 s.
    """
    from django.test.testcases import QuietWSGIRequestHandler

    QuietWSGIRequestHandler.disable_nagle_algorithm = True


_live_server_sends_at_once()

# Property-based tests check what the code does, never how fast: on a shared, busy machine
# Hypothesis's per-example deadline and its "input generation is slow" check failed tests whose
# assertions held.
hypothesis.settings.register_profile(
    "suite", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("suite")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tests.scale import order_shared_data_tests

    order_shared_data_tests(items)
    _unique_node_ids(items)
    _xdist_groups(config, items)


def _unique_node_ids(items: list[pytest.Item]) -> None:
    """Give each test its own node id, as xdist's schedulers key their work by it.

    Schemathesis makes one item per API operation, all under the test function's id (pytest 9
    reads `item._id`, which schemathesis leaves without the operation): --dist loadgroup then
    ran one operation of eight. Each such item gets its name, operation included, in its id.
    """
    from collections import Counter

    from _pytest.nodeid import coerce_node_id

    counts = Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1:
            item._id = coerce_node_id(f"{item.nodeid.rpartition('::')[0]}::{item.name}")


def _xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Send the tests of an xdist_group to one worker (--dist loadgroup), as xdist means to.

    pytest-xdist 3.8 marks a group by appending "@name" to `item._nodeid`, which pytest 9 no
    longer reads (a node's id is `item._id`): every group was split over the workers. This does
    the same on the attribute pytest reads; it changes nothing without --dist loadgroup.
    """
    if not getattr(config.option, "loadgroup", False):  # set on xdist's workers only
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = sorted(
            {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
             for mark in item.iter_markers("xdist_group")}
        )  # fmt: skip
        if names and item.nodeid.rfind("@") <= item.nodeid.rfind("]"):
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    from tests.scale import finish_shared_data

    try:
        return (yield)
    finally:
        finish_shared_data(item, nextitem)


class FakeClock:
    """The suite's one fake clock: time moves only when a test moves it or the code sleeps.

    Call it (or pass it as a `now=` / `clock=` argument) for the current datetime; pass
    `.sleep` where the code sleeps, and waiting costs no real time: each delay is recorded in
    `.delays` and moves the clock on; `.monotonic` is the same clock as seconds, for code that
    reads time.monotonic. Django's own clock (timezone.now) is moved with time-machine instead.
    """

    def __init__(self, now: datetime | None = None) -> None:
        from django.utils import timezone

        self.now = now or timezone.now()
        self.start = self.now
        self.delays: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return (self.now - self.start).total_seconds()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True, scope="session")
def _test_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings of the whole session, data built once for many tests included.

    Tests create many users, and the production password hasher is slow on purpose (0.2 s a
    password: the world built once for a module paid it too, as a function's fixture came too
    late). STATIC_ROOT is an empty folder: the files `make run`'s collectstatic leaves in
    staticfiles/ are no part of a test, and whitenoise read every one of them again for each
    test client (20 ms each).
    """
    from django.test import override_settings

    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        STATIC_ROOT=tmp_path_factory.mktemp("static_root"),
    ):
        yield


@pytest.fixture(autouse=True)
def _roles_exist(request: pytest.FixtureRequest) -> None:
    """Recreate the role groups of the data migration: transactional tests flush them away."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("django_db_blocker")
    from django.contrib.auth.models import Group

    from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS

    for name in (SYNC_ADMINS, MARKETING_MANAGERS):
        Group.objects.get_or_create(name=name)


@pytest.fixture(autouse=True)
def _empty_task_queue(request: pytest.FixtureRequest) -> None:
    """Start every database test with an empty task queue.

    The ORM broker's queue lives in the test database and is rolled back with it; a Redis queue
    outlives the test, and a task left there by one test would be run by the next.
    """
    if request.node.get_closest_marker("django_db") is None:
        return
    from django.conf import settings

    if settings.REDIS_URL:
        from django_q.brokers import get_broker

        get_broker().purge_queue()


def uses_orm_broker() -> bool:
    from django.conf import settings

    return not settings.REDIS_URL


@dataclass
class LiveKhoros:
    """A Khoros simulator serving over HTTP on loopback, with its seeded data."""

    sim: object
    data: object
    base_url: str


def _quick_transport(settings, prefix: str) -> None:
    """Short timeouts and real but short backoff for a system's client: faults must not make the
    suite slow (prefix: KHOROS or SAPMC)."""
    for name, value in (
        ("TIMEOUT_CONNECT", 2.0), ("TIMEOUT_READ", 2.0), ("MAX_RETRIES", 3),
        ("BACKOFF_BASE", 0.01), ("BACKOFF_CAP", 0.2),
    ):  # fmt: skip
        setattr(settings, f"{prefix}_{name}", value)


@pytest.fixture
def khoros_seed() -> dict[str, int]:
    """Size of the seeded Khoros data; override in a module for other sizes."""
    return {"initiatives": 4, "plans_per_initiative": 6, "posts_per_plan": 5}


@pytest.fixture
def live_khoros(settings, khoros_seed: dict[str, int]) -> Iterator[LiveKhoros]:
    """Start a seeded Khoros simulator and point the settings at it."""
    from simulators.khoros import KhorosData, KhorosSimulator
    from simulators.server import start_in_thread

    data = KhorosData.generate(seed=7, **khoros_seed)
    sim = KhorosSimulator(data=data, token=KHOROS_TOKEN)
    with start_in_thread(sim) as server:
        settings.KHOROS_BASE_URL = f"{server.base_url}/v2"
        settings.KHOROS_TOKEN = KHOROS_TOKEN
        settings.KHOROS_COMPANY_ID = data.company_id
        _quick_transport(settings, "KHOROS")
        yield LiveKhoros(sim=sim, data=data, base_url=server.base_url)


def run_queued_tasks() -> int:
    """Let a real django-q2 worker run every task in the broker, here; return the count."""
    from django_q.brokers import get_broker
    from django_q.monitor import monitor
    from django_q.pusher import pusher
    from django_q.worker import worker

    broker = get_broker()
    pending = broker.queue_size()
    if not pending:
        return 0
    task_queue: Queue = Queue()
    result_queue: Queue = Queue()
    stop = Event()
    stop.set()  # one pass over the broker, then return
    pusher(task_queue, stop, broker=broker)
    pulled = task_queue.qsize()
    task_queue.put("STOP")
    worker(task_queue, result_queue, Value("f", -1))
    result_queue.put("STOP")
    monitor(result_queue, broker=broker)
    return pulled


SAPMC_PASSWORD = "sapmc-secret-pw-9f2c"


@dataclass
class LiveSapmc:
    """An SAP MC simulator on loopback whose campaigns reference the Khoros simulator's Plans."""

    sim: object
    data: object
    base_url: str


@pytest.fixture
def sapmc_seed() -> dict[str, int]:
    return {"campaigns_per_initiative": 3, "other_category": 4}


@pytest.fixture
def live_sapmc(
    settings, live_khoros: LiveKhoros, sapmc_seed: dict[str, int]
) -> Iterator[LiveSapmc]:
    """Start a seeded SAP MC simulator linked to `live_khoros` and point the settings at it."""
    from simulators.sapmc import SapmcSimulator
    from simulators.sapmc_data import KHOROS_CATEGORY, SapmcData
    from simulators.server import start_in_thread

    data = SapmcData.generate(khoros=live_khoros.data, seed=7, **sapmc_seed)
    sim = SapmcSimulator(data=data, user="comm-user", password=SAPMC_PASSWORD, page_size=5)
    with start_in_thread(sim) as server:
        settings.SAPMC_BASE_URL = server.base_url
        settings.SAPMC_USER = "comm-user"
        settings.SAPMC_PASSWORD = SAPMC_PASSWORD
        settings.SAPMC_CAMPAIGN_CATEGORY = KHOROS_CATEGORY
        _quick_transport(settings, "SAPMC")
        yield LiveSapmc(sim=sim, data=data, base_url=server.base_url)


def django_start(
    environ: dict[str, str], code: str = "import django; django.setup()", *, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter that starts our settings from `environ` alone (plus a
    PATH, the settings module and DEBUG=1, which `environ` may override): what a start sees."""
    from django.conf import settings

    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "smcbridge.settings", "DEBUG": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], env={**env, **environ}, capture_output=True, text=True,
        cwd=settings.BASE_DIR, check=check,
    )  # fmt: skip


def settings_from(environ: dict[str, str]) -> dict[str, Any]:
    """The settings module run in this process from `environ` alone (plus a PATH and DEBUG=1,
    as django_start), its names and values: what a start would read, without the second of a
    new interpreter. A value the settings refuse raises their ImproperlyConfigured."""
    from django.conf import settings

    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", **environ}
    with mock.patch.dict(os.environ, env, clear=True):
        return runpy.run_path(str(Path(settings.BASE_DIR) / "smcbridge" / "settings.py"))


@pytest.fixture(scope="session")
def migrated_production_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated by the documented `manage.py migrate`, made once for the tests of
    live processes (tests/test_deploy.py, tests/syncs/test_health_live.py), which each take a
    copy: each migration was a process of its own, 2-3 s of CPU."""
    from tests.test_deploy import manage, production_env

    tmp = tmp_path_factory.mktemp("migrated")
    db = tmp / "prod.sqlite3"
    done = manage(production_env(tmp, DATABASE_URL=f"sqlite:///{db}"), "migrate", "--noinput")
    assert done.returncode == 0, done.stderr
    return db
