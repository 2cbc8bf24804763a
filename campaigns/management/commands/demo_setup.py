"""Prepare `make run`: schedules, first syncs over HTTP, demo users and grants, the banner."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS, Assignment, InitiativeGrant
from campaigns.services import drift_adopt_sap
from khoros import client as khoros_client
from khoros import services as khoros_services
from khoros.kpis import sync_khoros_kpis
from khoros.models import Initiative
from sapmc import client as sapmc_client
from sapmc.models import ExternalCampaign
from sapmc.push import push_successes
from sapmc.sync import sync_sapmc_campaigns
from syncs.models import SyncRun

DEMO_USERS = [
    # (username, password, full name, role, email): the sync admin's address receives the alert
    # emails (the console backend prints them in the worker's output).
    ("admin", "bridge-admin-2026", "Alex Admin", SYNC_ADMINS, "alex.admin@example.com"),
    ("maria", "bridge-maria-2026", "Maria Manager", MARKETING_MANAGERS, "maria@example.com"),
    ("tom", "bridge-tom-2026", "Tom Manager", MARKETING_MANAGERS, "tom@example.com"),
]


def _khoros_ready() -> None:
    with khoros_client.client_from_settings() as client:
        client.check_company()


def _sapmc_ready() -> None:
    with sapmc_client.client_from_settings() as client:
        client.fetch_csrf_token()


class Command(BaseCommand):
    help = "Install schedules, run the first syncs, create demo users and grants, print logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="URL to print.")
        parser.add_argument(
            "--wait", type=float, default=30.0, help="Seconds to wait for each system to answer."
        )
        parser.add_argument(
            "--no-demo-users",
            action="store_true",
            help="Against real systems: create no demo users (use createsuperuser).",
        )
        parser.add_argument(
            "--banner-file",
            default="",
            help="Write the banner to this file instead of printing it (make run prints it "
            "once the web server answers).",
        )

    def handle(
        self,
        *args: Any,
        url: str,
        wait: float,
        no_demo_users: bool,
        banner_file: str = "",
        **options: Any,
    ) -> None:
        call_command("setup_schedules", stdout=self.stdout)
        self._wait_for("Khoros", settings.KHOROS_BASE_URL, _khoros_ready, khoros_client.KhorosError,
                       khoros_client.KhorosUnavailableError, wait)  # fmt: skip
        self._report(khoros_services.sync_khoros(trigger=SyncRun.Trigger.COMMAND))
        self._wait_for("SAP MC", settings.SAPMC_BASE_URL, _sapmc_ready, sapmc_client.SapmcError,
                       sapmc_client.SapmcUnavailableError, wait)  # fmt: skip
        campaigns_run = sync_sapmc_campaigns(trigger=SyncRun.Trigger.COMMAND)
        self._report(campaigns_run)
        if campaigns_run.status == SyncRun.Status.SUCCEEDED and not campaigns_run.progress_total:
            # A category code that names nothing lists nothing, without any error to show.
            self.stdout.write(
                f"SAP MC holds no campaign of category {settings.SAPMC_CAMPAIGN_CATEGORY!r}: "
                "check SAPMC_CAMPAIGN_CATEGORY (your category code of Khoros campaigns)."
            )
        self._report(sync_khoros_kpis(trigger=SyncRun.Trigger.COMMAND))
        if not no_demo_users:
            self._users_and_grants()
            self._demo_assignments()
        if settings.SAPMC_SUCCESS_PUSH_ENABLED:
            # The assignments say where the numbers go: push the settled days now, so the
            # campaign pages show the round trip from the first minute.
            self._report(push_successes(trigger=SyncRun.Trigger.COMMAND))
        banner = self._banner(url, demo_users=not no_demo_users)
        if banner_file:
            Path(banner_file).write_text(banner)
        else:
            self.stdout.write(banner)

    def _wait_for(
        self,
        name: str,
        base_url: str,
        probe: Callable[[], None],
        error: type[Exception],
        unavailable: type[Exception],
        wait: float,
    ) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                probe()
                return
            except unavailable:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"{name} at {base_url} did not answer within {wait:.0f} s"
                    ) from None
                time.sleep(0.5)
            except error as exc:
                raise CommandError(f"{name} refused the configured credentials: {exc}") from None

    def _report(self, run: SyncRun) -> None:
        # "First" only when no earlier run of the kind succeeded: a restart syncs what is there.
        earlier = (
            SyncRun.objects.filter(kind=run.kind, status=SyncRun.Status.SUCCEEDED)
            .exclude(pk=run.pk)
            .exists()
        )
        changed = run.created_count or run.updated_count
        mirrored = (
            "; already mirrored"
            if earlier and run.status == SyncRun.Status.SUCCEEDED and not changed
            else ""
        )
        self.stdout.write(
            f"{'' if earlier else 'First '}{run.get_kind_display()} sync #{run.pk} {run.status}: "
            f"{run.created_count} created, {run.updated_count} updated, "
            f"{run.unchanged_count} unchanged{mirrored}" + (f" ({run.error})" if run.error else "")
        )

    def _users_and_grants(self) -> None:
        User = get_user_model()
        initiatives = list(Initiative.objects.filter(removed_at__isnull=True).order_by("khoros_id"))
        half = max(1, len(initiatives) // 2)
        shares = {"maria": initiatives[:half], "tom": initiatives[half:]}
        for username, password, full_name, role, email in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = role == SYNC_ADMINS
                user.save()
            if not user.email:  # a demo set up before users had addresses gets them now
                user.email = email
                user.save(update_fields=["email"])
            user.groups.add(Group.objects.get_or_create(name=role)[0])
            if role == MARKETING_MANAGERS and not user.initiative_grants.exists():
                InitiativeGrant.objects.bulk_create(
                    InitiativeGrant(user=user, initiative=i) for i in shares[username]
                )

    def _demo_assignments(self) -> None:
        """Adopt SAP MC's references for half the campaigns that have some, as the demo admin.

        The other half keep showing drift, so both sides of the workbench can be tried at once.
        """
        if Assignment.objects.exists():
            return
        admin = get_user_model().objects.get(username="admin")
        referenced = (
            ExternalCampaign.objects.filter(
                sap_references__plan__isnull=False, removed_at__isnull=True
            )
            .distinct()
            .order_by("campaign_id")
        )
        for campaign in list(referenced)[::2]:
            drift_adopt_sap(campaign=campaign, acting_user=admin)

    def _banner(self, url: str, *, demo_users: bool) -> str:
        lines = ["", "=" * 64, f"  smcbridge is up at {url}", ""]
        if demo_users:
            lines.append("  Demo logins (username / password):")
            for username, password, _, role, _email in DEMO_USERS:
                lines.append(f"    {username:<6} / {password:<18}  {role}")
        else:
            lines.append("  Create your first admin: .venv/bin/python manage.py createsuperuser")
        lines += [
            "",
            f"  Khoros: {settings.KHOROS_BASE_URL}",
            f"  SAP MC: {settings.SAPMC_BASE_URL} (campaign category "
            f"{settings.SAPMC_CAMPAIGN_CATEGORY}, time zone {settings.SAPMC_TIMEZONE})",
            "  Stop everything with Ctrl-C.",
            "=" * 64,
            "",
        ]
        return "\n".join(lines)
