"""The engine's pages (the names and paths they had under campaigns/)."""

from __future__ import annotations

from django.urls import path

from syncs import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", views.healthz_live, name="healthz-live"),
    path("syncs/", views.sync_history, name="sync-history"),
    path("syncs/<int:pk>/", views.sync_run_detail, name="sync-run"),
    path("syncs/<int:pk>/again/", views.sync_run_again, name="sync-run-again"),
    path("syncs/alerts/", views.notification_list, name="sync-notifications"),
    path("syncs/alerts/count/", views.notification_count, name="sync-notifications-count"),
    path(
        "syncs/alerts/<int:pk>/dismiss/",
        views.notification_dismiss,
        name="sync-notification-dismiss",
    ),
]
