from __future__ import annotations

from django.urls import path

from campaigns import api_calls, calendar_views, ops, views, workbench

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sync/<str:kind>/", views.sync_now, name="sync-now"),
    path("workbench/", workbench.workbench, name="workbench"),
    path("workbench/assign/", workbench.workbench_assign, name="workbench-assign"),
    path("workbench/unassign/", workbench.workbench_unassign, name="workbench-unassign"),
    path("workbench/move/", workbench.workbench_move, name="workbench-move"),
    path("workbench/drift/", workbench.workbench_drift, name="workbench-drift"),
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
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/kpis.csv", views.campaign_kpis_csv, name="campaign-kpis-csv"),
    path("syncs/", ops.sync_history, name="sync-history"),
    path("syncs/<int:pk>/", ops.sync_run_detail, name="sync-run"),
    path("syncs/<int:pk>/again/", ops.sync_run_again, name="sync-run-again"),
    path("schedules/", ops.schedules, name="schedules"),
    path("schedules/<int:pk>/", ops.schedule_edit, name="schedule-edit"),
    path("sapmc-calls/", api_calls.sapmc_calls, name="sapmc-calls"),
]
