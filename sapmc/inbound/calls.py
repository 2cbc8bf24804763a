"""The SAP MC calls page: every call to the inbound endpoints, for sync admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.access import is_sync_admin
from campaigns.models import InboundCall

PAGE_SIZE = 50
ENDPOINTS = ("parameter-values", "external-campaigns", "campaign-success", "openapi.json")
# Status filter -> (lowest, highest) status code it keeps.
STATUS_RANGES: dict[str, tuple[int, int]] = {
    "ok": (200, 299),
    "refused": (400, 499),
    "unauthorized": (401, 401),
    "failed": (500, 599),
}


@dataclass(frozen=True)
class InboundCallFilters:
    endpoint: str = ""
    status: str = ""
    day: date | None = None


class InboundCallFilterForm(forms.Form):
    endpoint = forms.ChoiceField(
        required=False,
        choices=[("", "All endpoints"), *((e, e) for e in ENDPOINTS), ("(unknown)", "Other paths")],
    )
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            ("ok", "Answered (2xx)"),
            ("refused", "Refused (4xx)"),
            ("unauthorized", "Unauthorized (401)"),
            ("failed", "Failed (5xx)"),
        ],
    )
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> InboundCallFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return InboundCallFilters(
            endpoint=data.get("endpoint", ""), status=data.get("status", ""), day=data.get("day")
        )


def inbound_calls(*, filters: InboundCallFilters) -> QuerySet[InboundCall]:
    """Calls, newest first, by endpoint, status class and day (in the viewer's time zone)."""
    calls = InboundCall.objects.all()
    if filters.endpoint:
        calls = calls.filter(endpoint=filters.endpoint)
    if filters.status in STATUS_RANGES:
        low, high = STATUS_RANGES[filters.status]
        calls = calls.filter(status_code__gte=low, status_code__lte=high)
    if filters.day:
        calls = calls.filter(at__date=filters.day)
    return calls.order_by("-at", "-id")


@login_required
def sapmc_calls(request: HttpRequest) -> HttpResponse:
    """What SAP MC asked the bridge and what it got, filterable and paged."""
    if not is_sync_admin(request.user):
        raise PermissionDenied("The SAP MC call log is for sync admins.")
    form = InboundCallFilterForm(request.GET)
    page = Paginator(inbound_calls(filters=form.filters()), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "campaigns/api_calls.html", context)
