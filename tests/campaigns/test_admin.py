"""The Django admin: grants are audited, Khoros and SAP MC data are read-only, access is checked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import AuditEvent, InitiativeGrant
from tests.campaigns.test_audit import details

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(django_user_model, world):
    return django_user_model.objects.create_superuser("root", password="pw-root-2026")


def test_granting_and_revoking_in_the_admin_is_audited(client, root, world):
    client.force_login(root)
    response = client.post(
        reverse("admin:campaigns_initiativegrant_add"),
        {"user": world.maria.pk, "initiative": world.initiatives[2].pk},
    )
    assert response.status_code == 302
    grant = InitiativeGrant.objects.get(user=world.maria, initiative=world.initiatives[2])
    assert grant.granted_by == root
    created = AuditEvent.objects.get(action="grant.create")
    assert created.after == {"user": "maria", "initiative": world.initiatives[2].khoros_id}

    response = client.post(
        reverse("admin:campaigns_initiativegrant_delete", args=[grant.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not InitiativeGrant.objects.filter(pk=grant.pk).exists()
    assert AuditEvent.objects.get(action="grant.delete").actor == root


def test_bulk_revoke_is_audited_per_grant(client, root, world):
    client.force_login(root)
    grants = list(InitiativeGrant.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:campaigns_initiativegrant_changelist"),
        {"action": "delete_selected", "_selected_action": grants, "post": "yes"},
    )
    assert response.status_code == 302
    assert InitiativeGrant.objects.count() == 0
    assert AuditEvent.objects.filter(action="grant.delete").count() == len(grants)


def test_mirrored_data_cannot_be_edited_in_the_admin(client, root, world):
    client.force_login(root)
    plan, campaign = world.plans[0], world.campaigns[0]
    assert client.get(reverse("admin:khoros_plan_add")).status_code == 403
    assert client.get(reverse("admin:sapmc_externalcampaign_add")).status_code == 403
    assert client.get(reverse("admin:campaigns_assignment_add")).status_code == 403
    response = client.post(reverse("admin:khoros_plan_change", args=[plan.pk]), {"name": "hacked"})
    assert response.status_code == 403
    plan.refresh_from_db()
    assert plan.name == "Spring Sale social"
    assert (
        client.get(reverse("admin:sapmc_externalcampaign_change", args=[campaign.pk])).status_code
        == 200
    )


def test_managers_do_not_get_into_the_admin(client, world):
    client.force_login(world.maria)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_user_changes_in_the_admin_are_audited(client, root, world, django_user_model):
    client.force_login(root)
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "nina",
            "password1": "a-long-pass-2026!",
            "password2": "a-long-pass-2026!",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    nina = django_user_model.objects.get(username="nina")
    created = AuditEvent.objects.get(action="user.create")
    assert created.actor == root
    assert created.after["username"] == "nina"
    assert created.after["is_superuser"] is False
    assert "a-long-pass-2026!" not in str(created.after)
    assert nina.password not in str(created.after)

    managers = world.maria.groups.get()
    response = client.post(
        reverse("admin:auth_user_change", args=[nina.pk]),
        {
            "username": "nina",
            "first_name": "Nina",
            "last_name": "",
            "email": "nina@example.com",
            "is_active": "on",
            "is_staff": "on",
            "groups": [managers.pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    changed = AuditEvent.objects.get(action="user.update")
    assert changed.before["is_staff"] is False and changed.after["is_staff"] is True
    assert changed.before["groups"] == [] and changed.after["groups"] == [managers.name]
    assert changed.summary == "Changed user “nina” (First name, Email, Staff, Groups)"

    response = client.post(
        reverse("admin:auth_user_password_change", args=[nina.pk]),
        {"password1": "another-pass-2026!", "password2": "another-pass-2026!",
         "usable_password": "true", "set-password": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    password_row = AuditEvent.objects.get(action="user.password")
    assert password_row.after == {"username": "nina", "usable": True}
    assert "another-pass-2026!" not in str(password_row.after) + password_row.summary

    response = client.post(reverse("admin:auth_user_delete", args=[nina.pk]), {"post": "yes"})
    assert response.status_code == 302
    deleted = AuditEvent.objects.get(action="user.delete")
    assert deleted.before["username"] == "nina" and deleted.after is None
    assert deleted.actor == root


def test_changing_ones_own_password_in_the_admin_is_audited(client, root):
    # The admin's "Change password" link (top right) is another page than the user's own.
    client.force_login(root)
    url = reverse("admin:password_change")
    wrong = {"old_password": "not-it", "new_password1": "b-new-pass-2026!",
             "new_password2": "b-new-pass-2026!"}  # fmt: skip
    assert client.post(url, wrong).status_code == 200
    assert not AuditEvent.objects.exists()
    response = client.post(url, {**wrong, "old_password": "pw-root-2026"})
    assert response.status_code == 302
    row = AuditEvent.objects.get()
    assert (row.action, row.actor, row.summary) == (
        "user.password",
        root,
        "Changed the password of user “root”",
    )
    assert row.after == {"username": "root", "usable": True}
    assert "b-new-pass-2026!" not in str(row.after) + row.summary


def test_group_changes_in_the_admin_are_audited(client, root, world):
    from django.contrib.auth.models import Group, Permission

    client.force_login(root)
    permission = Permission.objects.get(codename="view_plan")
    response = client.post(
        reverse("admin:auth_group_add"), {"name": "Viewers", "permissions": [permission.pk]}
    )
    assert response.status_code == 302
    created = AuditEvent.objects.get(action="group.create")
    assert created.after == {"name": "Viewers", "permissions": ["khoros.view_plan"]}
    group = Group.objects.get(name="Viewers")
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": "Readers", "permissions": []}
    )
    assert response.status_code == 302
    changed = AuditEvent.objects.get(action="group.update")
    assert changed.before == {"name": "Viewers", "permissions": ["khoros.view_plan"]}
    assert changed.after == {"name": "Readers", "permissions": []}
    response = client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="group.delete").before["name"] == "Readers"


def test_a_user_change_row_lists_what_changed_with_labels_and_nothing_else(client, root, world):
    tom, managers = world.tom, world.tom.groups.get()
    tom.first_name, tom.last_name, tom.email = "Tom", "Berg", "tom@example.com"
    tom.save()
    client.force_login(root)
    response = client.post(
        reverse("admin:auth_user_change", args=[tom.pk]),
        {
            "username": "tom", "first_name": "Tom", "last_name": "Berg",
            "email": "tom@example.com", "is_staff": "on", "groups": [managers.pk],
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    changed = AuditEvent.objects.get(action="user.update")
    assert changed.summary == "Changed user “tom” (Active, Staff)"
    client.force_login(world.admin)
    assert details(client)[0] == ["Username: tom", "Active: yes → no", "Staff: no → yes"]


def test_a_group_change_row_lists_what_changed_after_its_name(client, root, world):
    from django.contrib.auth.models import Group, Permission

    client.force_login(root)
    permission = Permission.objects.get(codename="view_plan")
    group = Group.objects.create(name="Viewers")
    for data in (
        {"name": "Viewers", "permissions": [permission.pk]},
        {"name": "Readers", "permissions": [permission.pk]},
    ):
        response = client.post(reverse("admin:auth_group_change", args=[group.pk]), data)
        assert response.status_code == 302
    renamed, given = AuditEvent.objects.filter(action="group.update").order_by("-pk")
    assert (renamed.summary, given.summary) == (
        "Changed group “Readers” (Name)",
        "Changed group “Viewers” (Permissions)",
    )
    client.force_login(world.admin)
    assert details(client)[:2] == [
        ["Name: Viewers → Readers"],
        ["Name: Viewers", "Permissions: – → khoros.view_plan"],
    ]


def test_schedules_are_read_only_in_the_admin(client, root, world):
    from django_q.models import Schedule

    client.force_login(root)
    schedule = Schedule.objects.create(
        name="Khoros plans", func="khoros.tasks.sync_khoros_task", minutes=30,
        schedule_type=Schedule.MINUTES,
    )  # fmt: skip
    assert client.get(reverse("admin:django_q_schedule_add")).status_code == 403
    response = client.post(
        reverse("admin:django_q_schedule_add"),
        {"name": "evil", "func": "os.system", "args": "'rm -rf /'", "schedule_type": "O"},
    )
    assert response.status_code == 403
    response = client.post(
        reverse("admin:django_q_schedule_change", args=[schedule.pk]),
        {"name": "Khoros plans", "func": "os.system", "schedule_type": "I", "minutes": 30},
    )
    assert response.status_code == 403
    schedule.refresh_from_db()
    assert schedule.func == "khoros.tasks.sync_khoros_task"
    assert not Schedule.objects.filter(func="os.system").exists()
    assert client.get(reverse("admin:django_q_schedule_changelist")).status_code == 200
    assert (
        client.get(reverse("admin:django_q_schedule_change", args=[schedule.pk])).status_code == 200
    )


def test_deleting_a_user_revokes_their_grants_in_the_audit(client, root, world):
    # The grants go with the user (a cascade): the trail showed them granted, never revoked.
    client.force_login(root)
    tom = world.tom
    response = client.post(reverse("admin:auth_user_delete", args=[tom.pk]), {"post": "yes"})
    assert response.status_code == 302
    rows = list(AuditEvent.objects.order_by("id").values_list("action", "summary"))
    assert rows == [
        ("grant.delete", f"Revoked tom's access to Initiative “{world.initiatives[1].name}”"),
        ("user.delete", "Deleted user “tom”"),
    ]


def _user_form(client, user) -> dict[str, object]:
    """What the admin's change page of `user` sends as it was drawn (hidden fields included)."""
    form = client.get(reverse("admin:auth_user_change", args=[user.pk])).context["adminform"].form
    data: dict[str, object] = {}
    for name in form.fields:
        value = form[name].value()
        if name == "date_joined":
            day, time = str(value)[:10], str(value)[11:19]
            data.update({"date_joined_0": day, "date_joined_1": time})
            data.update({"initial-date_joined_0": day, "initial-date_joined_1": time})
        elif name in ("groups", "user_permissions"):
            data[name] = list(value or [])
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None and name not in ("password", "last_login"):
            data[name] = value
    return data


def test_a_user_page_opened_before_another_admins_change_does_not_undo_it(client, root, world):
    """Window 1 opened maria's page; window 2 took her out of the managers' group; window 1
    saved an email from its page, which still had the group ticked: the group is not given
    back unseen, and nothing is saved or audited in window 1's name."""
    client.force_login(root)
    maria, managers = world.maria, world.maria.groups.get()
    window_1 = _user_form(client, maria)
    window_2 = {**_user_form(client, maria), "groups": []}
    url = reverse("admin:auth_user_change", args=[maria.pk])
    assert client.post(url, window_2).status_code == 302

    response = client.post(url, {**window_1, "email": "maria@example.com"})

    assert response.status_code == 200
    body = response.content.decode()
    assert (
        "Someone else changed this user after this page was opened (Groups). Nothing was "
        "saved: reload the page to see the user as it is now."
    ) in body
    maria.refresh_from_db()
    assert not maria.groups.exists() and maria.email == ""
    assert [e.after["groups"] for e in AuditEvent.objects.filter(action="user.update")] == [[]]
    # A field the other window did not change is saved from an old page.
    response = client.post(url, {**window_1, "groups": [], "email": "maria@example.com"})
    assert response.status_code == 302
    maria.refresh_from_db()
    assert maria.email == "maria@example.com" and not maria.groups.exists()
    assert managers.user_set.filter(pk=maria.pk).count() == 0


def test_a_user_change_sent_twice_writes_one_audit_row(client, root, world):
    client.force_login(root)
    maria = world.maria
    form = {**_user_form(client, maria), "email": "maria@example.com"}
    url = reverse("admin:auth_user_change", args=[maria.pk])
    assert client.post(url, form).status_code == 302

    again = client.post(url, form, follow=True)  # the same form, once more

    assert again.status_code == 200
    assert "Someone else changed" not in again.content.decode()
    assert list(AuditEvent.objects.values_list("summary", flat=True)) == [
        "Changed user “maria” (Email)"
    ]


def test_a_group_page_opened_before_another_admins_change_does_not_undo_it(client, root, world):
    from django.contrib.auth.models import Group, Permission

    client.force_login(root)
    permission = Permission.objects.get(codename="view_plan")
    group = Group.objects.create(name="Viewers")
    group.permissions.add(permission)
    url = reverse("admin:auth_group_change", args=[group.pk])
    form = client.get(url).context["adminform"].form
    seen = {"seen_state": form["seen_state"].value()}
    assert client.post(url, {"name": "Viewers", "permissions": []}).status_code == 302

    response = client.post(url, {**seen, "name": "Readers", "permissions": [permission.pk]})

    assert response.status_code == 200
    assert "Someone else changed this group after this page was opened (Permissions)." in (
        response.content.decode()
    )
    group.refresh_from_db()
    assert group.name == "Viewers" and not group.permissions.exists()
    assert AuditEvent.objects.filter(action="group.update").count() == 1
