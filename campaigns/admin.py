"""Admin of the campaigns app: grants, users and groups are managed here (audited); the rest
is read-only.

Per model, what the admin may change and why:
- Initiative grants: given and revoked here, through the services, each with its audit row.
- Users and groups: the app has no page for them, so they are edited here; every add, change,
  password change (a person's own, on the admin's "Change password" page, too) and delete writes
  an audit row in the same transaction (what changed, never a password or its hash); a save that
  changes nothing writes none. A change page opened before another admin's change does not
  write over it (SeenStateForm).
- django-q2's schedules: read-only. Its stock admin lets anyone with access type any dotted
  `func` and so run any function of the code base in the worker; the bridge's schedules are
  declared by each app's sync_kinds.py (syncs/registry.py), installed by `setup_schedules`,
  and their interval and on/off switch are edited on the app's Schedules page, which is audited.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django_q.admin import ScheduleAdmin
from django_q.models import Schedule

from campaigns import services
from campaigns.audit_text import field_label
from campaigns.forms import AdminLoginForm
from campaigns.models import Assignment, AuditEvent, InitiativeGrant
from smcbridge.admin_readonly import ReadOnlyAdmin, ReadOnlyAdminMixin

# The admin's own login form, bounded like the app's (django-axes stores the user name).
admin.site.login_form = AdminLoginForm


def _staff(request: HttpRequest) -> User:
    """The user of an admin request: AdminSite.has_permission admits active staff only."""
    return cast(User, request.user)


@admin.register(InitiativeGrant)
class InitiativeGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "initiative", "granted_by", "granted_at"]
    list_filter = ["initiative"]
    list_select_related = ["user", "initiative", "granted_by"]
    readonly_fields = ["granted_by", "granted_at"]
    fields = ["user", "initiative", "granted_by", "granted_at"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # A grant is given or revoked, never edited: both are audited.

    def save_model(
        self, request: HttpRequest, obj: InitiativeGrant, form: object, change: bool
    ) -> None:
        grant = services.grant_create(
            user=obj.user, initiative=obj.initiative, acting_user=_staff(request)
        )
        obj.pk = grant.pk

    def delete_model(self, request: HttpRequest, obj: InitiativeGrant) -> None:
        services.grant_delete(grant=obj, acting_user=_staff(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[InitiativeGrant]) -> None:
        for grant in queryset.select_related("user", "initiative"):
            services.grant_delete(grant=grant, acting_user=_staff(request))


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    """Assignments change in the workbench only, where every change is audited."""

    list_display = ["plan", "campaign", "assigned_by", "assigned_at", "note"]
    list_select_related = ["plan", "campaign", "assigned_by"]
    search_fields = ["plan__name", "campaign__name"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "summary"]
    list_filter = ["action"]
    search_fields = ["summary", "actor_name"]
    date_hierarchy = "at"


# ---- Users and groups: edited here, audited -------------------------------------------------

USER_AUDITED_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
)


def user_state(user: User) -> dict[str, object]:
    """What an audit row keeps of an account: never its password or hash."""
    state: dict[str, object] = {name: getattr(user, name) for name in USER_AUDITED_FIELDS}
    state["groups"] = sorted(user.groups.values_list("name", flat=True))
    state["permissions"] = sorted(
        f"{app}.{code}"
        for app, code in user.user_permissions.values_list("content_type__app_label", "codename")
    )
    return state


def group_state(group: Group) -> dict[str, object]:
    return {
        "name": group.name,
        "permissions": sorted(
            f"{app}.{code}"
            for app, code in group.permissions.values_list("content_type__app_label", "codename")
        ),
    }


def user_form_state(data: dict[str, Any]) -> dict[str, object]:
    """What a user form's cleaned data asks for, as user_state keeps it (the fields it has)."""
    wanted: dict[str, object] = {name: data[name] for name in USER_AUDITED_FIELDS if name in data}
    if "groups" in data:
        wanted["groups"] = sorted(group.name for group in data["groups"])
    if "user_permissions" in data:
        wanted["permissions"] = _permission_names(data["user_permissions"])
    return wanted


def group_form_state(data: dict[str, Any]) -> dict[str, object]:
    wanted: dict[str, object] = {"name": data["name"]} if "name" in data else {}
    if "permissions" in data:
        wanted["permissions"] = _permission_names(data["permissions"])
    return wanted


def _permission_names(permissions: QuerySet) -> list[str]:
    """A form's chosen permissions as user_state and group_state name them."""
    return sorted(
        f"{app}.{code}"
        for app, code in permissions.values_list("content_type__app_label", "codename")
    )


def _changed(before: dict[str, object] | None, after: dict[str, object]) -> str:
    if before is None:
        return ""
    names = [field_label(name) for name in after if before.get(name) != after[name]]
    return f" ({', '.join(names)})" if names else " (no change)"


# The hidden field of a user's or group's change page: its state as the page showed it.
SEEN_STATE = "seen_state"


class SeenStateForm(forms.ModelForm):
    """A change form that refuses to write over a change made after its page was drawn.

    Django's admin saves every field of the page: a page opened before another admin took a
    user out of a group gave the group back when it saved an email, unseen (the audit row said
    so, nobody read it). The page keeps the state it showed; on save, under the row's lock, a
    field someone else changed meanwhile and that this form would set otherwise refuses the
    save. Fields nobody else changed are saved from an old page, and a form sent twice (the
    first one's change already made) is no conflict.
    """

    seen_state = forms.CharField(widget=forms.HiddenInput, required=False)
    kind = ""  # "user" or "group", for the message

    def state_of(self, obj: Any) -> dict[str, object]:
        raise NotImplementedError

    def wanted_state(self, data: dict[str, Any]) -> dict[str, object]:
        raise NotImplementedError

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and not self.is_bound:
            self.initial[SEEN_STATE] = json.dumps(self.state_of(self.instance), default=str)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        seen_text = data.get(SEEN_STATE) or ""
        if self.instance.pk is None or not seen_text:
            return data  # an add, or a form posted by hand without what a page showed
        try:
            seen = json.loads(seen_text)
        except ValueError:
            raise ValidationError("The page was out of date: reload it.") from None
        current = (
            type(self.instance)._default_manager.select_for_update().filter(pk=self.instance.pk)
        ).first()
        if current is None:
            raise ValidationError(f"This {self.kind} was deleted after this page was opened.")
        now = json.loads(json.dumps(self.state_of(current), default=str))
        wanted = json.loads(json.dumps(self.wanted_state(data), default=str))
        overwritten = [
            field_label(name)
            for name, value in wanted.items()
            if name in now and isinstance(seen, dict) and seen.get(name) != now[name]
            and value != now[name]
        ]  # fmt: skip
        if overwritten:
            raise ValidationError(
                f"Someone else changed this {self.kind} after this page was opened "
                f"({', '.join(overwritten)}). Nothing was saved: reload the page to see the "
                f"{self.kind} as it is now."
            )
        return data


class AuditedUserChangeForm(SeenStateForm, UserChangeForm):
    kind = "user"

    def state_of(self, obj: Any) -> dict[str, object]:
        return user_state(obj)

    def wanted_state(self, data: dict[str, Any]) -> dict[str, object]:
        return user_form_state(data)


class AuditedGroupForm(SeenStateForm):
    kind = "group"

    class Meta:
        model = Group
        fields = ["name", "permissions"]

    def state_of(self, obj: Any) -> dict[str, object]:
        return group_state(obj)

    def wanted_state(self, data: dict[str, Any]) -> dict[str, object]:
        return group_form_state(data)


class AuditedAdminMixin:
    """Write one audit row per add, change and delete, inside the admin's transaction.

    The state before a change is read from the database in `save_model`; the state after in
    `save_related`, once the many-to-many fields (groups, permissions) are saved too.
    """

    kind: str  # "user" or "group"

    def audit_state(self, obj: Any) -> dict[str, object]:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = None
        if change and obj.pk is not None:
            previous = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = self.audit_state(previous) if previous is not None else None
        request._audit_before = before  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        obj = form.instance
        before = getattr(request, "_audit_before", None)
        after = self.audit_state(obj)
        if change and before == after:
            # Saved without a change (the same form sent twice, or Save pressed on a page as
            # it is): nothing to audit.
            return
        verb = "Changed" if change else "Created"
        services.audit_record(
            actor=_staff(request),
            action=f"{self.kind}.{'update' if change else 'create'}",
            summary=f"{verb} {self.kind} “{obj}”{_changed(before, after)}",
            before=before,
            after=after,
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            # Locked first: a second deletion at the same moment (another admin, another
            # window) waits, finds the row gone and writes no second row for one deletion.
            if not list(type(obj)._default_manager.select_for_update().filter(pk=obj.pk)):
                return
            self._audit_delete(request, obj)
            super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            # Locked, as in delete_model: rows deleted meanwhile are not found, nor audited.
            for obj in queryset.select_for_update():
                self._audit_delete(request, obj)
            super().delete_queryset(request, queryset)  # type: ignore[misc]

    def _audit_delete(self, request: HttpRequest, obj: Any) -> None:
        services.audit_record(
            actor=_staff(request),
            action=f"{self.kind}.delete",
            summary=f"Deleted {self.kind} “{obj}”",
            before=self.audit_state(obj),
            after=None,
        )


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    kind = "user"
    form = AuditedUserChangeForm

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [*fieldsets, (None, {"fields": [SEEN_STATE]})]

    def audit_state(self, obj: Any) -> dict[str, object]:
        return user_state(obj)

    def _audit_delete(self, request: HttpRequest, obj: Any) -> None:
        # Their grants go with them (a cascade): each revoked through the service first, so the
        # trail does not show access granted and never revoked.
        for grant in InitiativeGrant.objects.filter(user=obj).select_related("user", "initiative"):
            services.grant_delete(grant=grant, acting_user=_staff(request))
        super()._audit_delete(request, obj)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Django's view saves the password and calls log_change; the flag lets log_change
        # write the audit row in the same transaction.
        request._audit_password = True  # type: ignore[attr-defined]
        with transaction.atomic():
            return super().user_change_password(request, id, form_url)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if getattr(request, "_audit_password", False):
            _audit_password(request, obj)
        return super().log_change(request, obj, message)


def _audit_password(request: HttpRequest, user: User) -> None:
    services.audit_record(
        actor=_staff(request),
        action=AuditEvent.Action.USER_PASSWORD,
        summary=f"Changed the password of user “{user}”",
        before=None,
        after={"username": user.get_username(), "usable": user.has_usable_password()},
    )


_site_password_change = admin.site.password_change


def _audited_password_change(
    request: HttpRequest, extra_context: dict[str, Any] | None = None
) -> HttpResponse:
    """The admin's own "Change password" page (a person's own password), audited like the
    user page's: it is another view, and changed the password without a row."""
    with transaction.atomic():
        response = _site_password_change(request, extra_context)
        # Only a saved change redirects (to "password changed"); a refused form answers 200.
        if request.method == "POST" and response.status_code == 302:
            _audit_password(request, _staff(request))
    return response


# Set before the URLs are built (admin.site.urls, in smcbridge/urls.py) bind the view. The stubs
# type the view as answering a TemplateResponse; a saved change answers a redirect.
admin.site.password_change = _audited_password_change  # type: ignore[method-assign,assignment]


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    kind = "group"
    form = AuditedGroupForm

    def audit_state(self, obj: Any) -> dict[str, object]:
        return group_state(obj)


# ---- django-q2's schedules: read-only here -------------------------------------------------

admin.site.unregister(Schedule)


@admin.register(Schedule)
class ReadOnlyScheduleAdmin(ReadOnlyAdminMixin, ScheduleAdmin):
    """Look only: no `func` can be typed here (see the module docstring)."""
