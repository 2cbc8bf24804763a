"""The SAP MC calls page: every call to the inbound endpoints, for sync admins."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from sapmc.selectors import InboundCallFilters, inbound_calls
from smcbridge.paging import page_of
from syncs.access import sync_admin_required
from syncs.filtering import FilterForm

PAGE_SIZE = 50
ENDPOINTS = ("parameter-values", "external-campaigns", "campaign-success", "openapi.json")


class InboundCallFilterForm(FilterForm[InboundCallFilters]):
    filters_class = InboundCallFilters

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

    def filters_from(self, data: dict[str, Any]) -> InboundCallFilters:
        return InboundCallFilters(endpoint=data["endpoint"], status=data["status"], day=data["day"])


@login_required
@sync_admin_required("The SAP MC call log is for sync admins.")
def sapmc_calls(request: HttpRequest) -> HttpResponse:
    """What SAP MC asked the bridge and what it got, filterable and paged."""
    form = InboundCallFilterForm(request.GET)
    page = page_of(
        Paginator(inbound_calls(filters=form.filters()), PAGE_SIZE), request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        # An empty log unfiltered means SAP MC has not called yet: the page then says where
        # its communication arrangement must point, and as whom.
        "filtered": any(form.data.get(name) for name in form.fields),
        "api_base": request.build_absolute_uri(reverse("sapmc-api-not-found", kwargs={"rest": ""})),
        "inbound_user": settings.SAPMC_INBOUND_USER,
    }
    return render(request, "sapmc/calls.html", context)
