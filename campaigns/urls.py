from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.generic import RedirectView

from campaigns import calendar_views, schedule_views, views, workbench
from campaigns.access import signed_in_required
from campaigns.forms import LoginForm

urlpatterns = [
    # A signed-in person who comes back to the login page (Back after logging in, a reload, a
    # bookmark) goes on to the page it would lead to instead of a form asking again. Safe from
    # loops: a signed-in person without a page's role gets its 403, never the login page.
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", login_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("sync/<str:kind>/", views.sync_now, name="sync-now"),
    path("workbench/", workbench.workbench, name="workbench"),
    path("workbench/assign/", workbench.workbench_assign, name="workbench-assign"),
    path("workbench/unassign/", workbench.workbench_unassign, name="workbench-unassign"),
    path("workbench/move/", workbench.workbench_move, name="workbench-move"),
    path("workbench/drift/", workbench.workbench_drift, name="workbench-drift"),
    path("workbench/undo/", workbench.workbench_undo, name="workbench-undo"),
    path("audit/", views.audit, name="audit"),
    path("calendar/", calendar_views.calendar_page, name="calendar"),
    path("calendar/panel/", calendar_views.calendar_panel, name="calendar-panel"),
    path("calendar/assign/", calendar_views.calendar_assign, name="calendar-assign"),
    path("calendar/list/", calendar_views.calendar_list, name="calendar-list"),
    path("calendar/list/assign/", calendar_views.calendar_list_assign, name="calendar-list-assign"),
    path("calendar/views/", calendar_views.saved_view_save, name="saved-view-save"),
    path(
        "calendar/views/<int:pk>/delete/",
        calendar_views.saved_view_delete,
        name="saved-view-delete",
    ),
    # Someone who shortens a campaign's address to find the others: the workbench lists them.
    path(
        "campaigns/",
        signed_in_required(RedirectView.as_view(pattern_name="workbench")),
        name="campaigns",
    ),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/pushes/<int:entry>/settle/", views.push_resolve, name="push-resolve"),
    path("campaigns/<int:pk>/pushes/settle/", views.push_resolve_shown, name="push-resolve-shown"),
    path("campaigns/<int:pk>/kpis.csv", views.campaign_kpis_csv, name="campaign-kpis-csv"),
    path("schedules/", schedule_views.schedules, name="schedules"),
    path("schedules/<int:pk>/", schedule_views.schedule_edit, name="schedule-edit"),
]
