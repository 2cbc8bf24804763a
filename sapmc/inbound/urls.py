"""URLs of SAP MC's inbound endpoints, mounted at /sapmc/extcamp/v1/."""

from __future__ import annotations

from django.urls import re_path

from campaigns import api

# A trailing slash is accepted too: SAP MC's destination may be configured either way.
urlpatterns = [
    re_path(r"^parameter-values/?$", api.parameter_values, name="sapmc-api-parameter-values"),
    re_path(r"^external-campaigns/?$", api.external_campaigns, name="sapmc-api-external-campaigns"),
    re_path(r"^campaign-success/?$", api.campaign_success, name="sapmc-api-campaign-success"),
    re_path(r"^openapi\.json$", api.openapi_document, name="sapmc-api-openapi"),
    re_path(r"^(?P<rest>.*)$", api.not_found, name="sapmc-api-not-found"),
]
