"""The sync admins' page of the inbound API; the API itself is sapmc.inbound.urls."""

from __future__ import annotations

from django.urls import path

from sapmc.inbound import calls

urlpatterns = [
    path("sapmc-calls/", calls.sapmc_calls, name="sapmc-calls"),
]
