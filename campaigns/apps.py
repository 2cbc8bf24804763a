from __future__ import annotations

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns import retention, selectors
        from sapmc import push
        from smcbridge import checks  # noqa: F401 - registers the deployment's system checks

        # The push sends each Plan's numbers to the campaign the bridge assigned it to.
        push.register_assignment_source(selectors.assignment_pairs)
        # Expired sessions and the login log: pruned by the housekeeping schedule.
        retention.register()
