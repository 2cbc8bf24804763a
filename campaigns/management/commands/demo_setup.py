"""Prepare the demo of `make run`: users, grants, schedules and a first sync over HTTP."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS, InitiativeGrant
from khoros import client as khoros_client
from khoros import services as khoros_services
from khoros.models import Initiative, SyncRun

DEMO_USERS = [
    # (username, password, full name, role)
    ("admin", "bridge-admin-2026", "Alex Admin", SYNC_ADMINS),
    ("maria", "bridge-maria-2026", "Maria Manager", MARKETING_MANAGERS),
    ("tom", "bridge-tom-2026", "Tom Manager", MARKETING_MANAGERS),
]


class Command(BaseCommand):
    help = "Create demo users and grants, install schedules, run a first sync, print logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="URL to print.")
        parser.add_argument(
            "--wait", type=float, default=30.0, help="Seconds to wait for Khoros to answer."
        )

    def handle(self, *args: Any, url: str, wait: float, **options: Any) -> None:
        call_command("setup_schedules", stdout=self.stdout)
        self._wait_for_khoros(wait)
        run = khoros_services.sync_khoros(trigger=SyncRun.Trigger.COMMAND)
        self.stdout.write(
            f"First Khoros sync #{run.pk} {run.status}: {run.created_count} created, "
            f"{run.updated_count} updated, {run.unchanged_count} unchanged"
            + (f" ({run.error})" if run.error else "")
        )
        self._users_and_grants()
        self._banner(url)

    def _wait_for_khoros(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                with khoros_client.client_from_settings() as client:
                    client.check_company()
                return
            except khoros_client.KhorosUnavailableError:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Khoros at {settings.KHOROS_BASE_URL} did not answer within {wait:.0f} s"
                    ) from None
                time.sleep(0.5)
            except khoros_client.KhorosError as exc:
                raise CommandError(f"Khoros refused the demo credentials: {exc}") from None

    def _users_and_grants(self) -> None:
        User = get_user_model()
        initiatives = list(Initiative.objects.filter(removed_at__isnull=True).order_by("khoros_id"))
        half = max(1, len(initiatives) // 2)
        shares = {"maria": initiatives[:half], "tom": initiatives[half:]}
        for username, password, full_name, role in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = role == SYNC_ADMINS
                user.save()
            user.groups.add(Group.objects.get_or_create(name=role)[0])
            if role == MARKETING_MANAGERS and not user.initiative_grants.exists():
                InitiativeGrant.objects.bulk_create(
                    InitiativeGrant(user=user, initiative=i) for i in shares[username]
                )

    def _banner(self, url: str) -> None:
        lines = [
            "",
            "=" * 64,
            f"  smcbridge is starting at {url}",
            "",
            "  Demo logins (username / password):",
        ]
        for username, password, _, role in DEMO_USERS:
            lines.append(f"    {username:<6} / {password:<18}  {role}")
        lines += [
            "",
            f"  Khoros: {settings.KHOROS_BASE_URL}",
            "  Stop everything with Ctrl-C.",
            "=" * 64,
            "",
        ]
        self.stdout.write("\n".join(lines))
