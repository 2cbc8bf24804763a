from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView


@login_not_required
def favicon(request: HttpRequest) -> HttpResponse:
    # The icon's address is asked for here, not when the URLs load: with the manifest storage
    # of production it exists only after collectstatic.
    return HttpResponsePermanentRedirect(static("favicon.svg"))


admin.site.site_header = "smcbridge administration"
admin.site.site_title = "smcbridge"

urlpatterns = [
    # The SAP MC models moved from campaigns to sapmc (issue 9): old admin bookmarks still work.
    re_path(
        r"^admin/campaigns/(?P<model>externalcampaign|campaignreference|inboundreport|inboundcall)/"
        r"(?P<rest>.*)$",
        # Public redirect: the admin it leads to asks for a staff login itself.
        login_not_required(
            RedirectView.as_view(
                url="/admin/sapmc/%(model)s/%(rest)s", permanent=True, query_string=True
            )
        ),
    ),
    # Pages that name no icon (the Django admin, /healthz) make browsers ask for this one.
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("sapmc/extcamp/v1/", include("sapmc.inbound.urls")),
    path("", include("syncs.urls")),
    path("", include("sapmc.urls")),
    path("", include("campaigns.urls")),
]
