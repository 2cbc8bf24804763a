"""Every answer of the bridge's is marked as its own (static/js/app.js swaps nothing else)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from smcbridge.middleware import ANSWER_MARK

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "workbench"}


def test_every_answer_is_marked_its_pages_partials_refusals_and_redirects(world):
    client = Client(enforce_csrf_checks=True)
    answers = [client.get(reverse("workbench")), client.get("/healthz/live")]  # signed out
    client.force_login(world.maria)
    answers += [
        client.get(reverse("workbench"), {"campaign": world.campaigns[0].pk}),
        client.get(reverse("workbench"), {"campaign": world.campaigns[0].pk}, headers=HTMX),
        client.get("/no-such-page/", headers=HTMX),
        client.post(reverse("workbench-assign"), {"plan_one": "1"}, headers=HTMX),  # no token
        client.get(reverse("audit"), headers=HTMX),  # a manager's 403
    ]
    assert [a.status_code for a in answers] == [302, 200, 200, 200, 404, 403, 403]
    assert [a.headers.get(ANSWER_MARK) for a in answers] == ["1"] * len(answers)
