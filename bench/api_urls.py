"""smcbridge's URLs plus the API benchmark's limit: a view that sends back prepared bytes.

The limit answers with the bytes the real endpoint answered (saved by bench/api.py in the
directory BENCH_API_BODIES), under the same server, settings and middleware: what is left is the
cost of the stack, without the endpoint's own work.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from smcbridge.urls import urlpatterns as smcbridge_urlpatterns


@cache
def _body(name: str) -> bytes:
    folder = Path(os.environ["BENCH_API_BODIES"])
    return (folder / f"{Path(name).name}.json").read_bytes()


@csrf_exempt
def same_bytes(request: HttpRequest, name: str) -> HttpResponse:
    return HttpResponse(_body(name), content_type="application/json; charset=utf-8")


urlpatterns = [path("bench/same-bytes/<slug:name>", same_bytes), *smcbridge_urlpatterns]
