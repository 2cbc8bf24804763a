"""URLs of SAP MC's inbound endpoints, mounted at /sapmc/extcamp/v1/."""

from __future__ import annotations

from django.urls import re_path

from sapmc.inbound import views

# A trailing slash is accepted too: SAP MC's destination may be configured either way.
urlpatterns = [
    re_path(r"^parameter-values/?$", views.parameter_values, name="sapmc-api-parameter-values"),
    re_path(
        r"^external-campaigns/?$", views.external_campaigns, name="sapmc-api-external-campaigns"
    ),
    re_path(r"^campaign-success/?$", views.campaign_success, name="sapmc-api-campaign-success"),
    re_path(r"^openapi\.json$", views.openapi_document, name="sapmc-api-openapi"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="sapmc-api-not-found"),
]
