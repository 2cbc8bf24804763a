"""Forms that validate what people send: filters of the workbench and audit, assignments."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from campaigns.calendar import CalendarFilters
from campaigns.selectors import AuditFilters, CampaignFilters, PlanFilters
from syncs.filtering import FilterForm
from syncs.forms import DateRangeForm as _DateRangeForm


def _offer(form: forms.Form, name: str, blank: str, choices: list[tuple[Any, str]]) -> None:
    """Give the choice field `name` these choices, after a blank one labelled `blank`: the
    choices are read per request (what this user may see), not when the form class is built."""
    cast(forms.ChoiceField, form.fields[name]).choices = [("", blank), *choices]


class CampaignFilterForm(_DateRangeForm[CampaignFilters]):
    prefix = "c"
    filters_class = CampaignFilters
    q = forms.CharField(required=False, max_length=100, label="Search campaigns")
    # wb-filter: the workbench refreshes on a change of any control with this class.
    status = forms.ChoiceField(
        required=False, label="Status", widget=forms.Select(attrs={"class": "wb-filter"})
    )
    unassigned = forms.BooleanField(required=False, label="Without Plans only")

    def __init__(self, *args: Any, statuses: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(self, "status", "Any status", statuses)

    def filters_from(self, data: dict[str, Any]) -> CampaignFilters:
        return CampaignFilters(
            q=data["q"].strip(),
            status=data["status"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            unassigned_only=data["unassigned"],
        )


class PlanFilterForm(_DateRangeForm[PlanFilters]):
    prefix = "p"
    filters_class = PlanFilters
    q = forms.CharField(required=False, max_length=100, label="Search Plans")
    initiative = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(attrs={"class": "wb-filter"}),
    )
    unassigned = forms.BooleanField(required=False, label="Unassigned only")

    def __init__(self, *args: Any, initiatives: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(self, "initiative", "All Initiatives", initiatives)

    def filters_from(self, data: dict[str, Any]) -> PlanFilters:
        return PlanFilters(
            q=data["q"].strip(),
            initiative=data["initiative"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            unassigned_only=data["unassigned"],
        )


# The largest primary key a database column holds (BigAutoField); a larger id is no id of ours,
# and handing it to an IN lookup would crash the query instead of finding nothing.
MAX_ID = 2**63 - 1


def is_id(value: str) -> bool:
    """Whether `value` (from a query or a form) can be a row's id: str.isdigit() alone admits
    "²", which int() refuses, and a number past MAX_ID crashed an IN query (both a 500), as
    did int() of more than 4,300 digits (Python refuses to read it): those are measured first."""
    return (
        value.isascii()
        and value.isdigit()
        and len(value.lstrip("0")) <= len(str(MAX_ID))
        and int(value) <= MAX_ID
    )


class IdListField(forms.Field):
    """Several primary keys sent under one name (checkboxes); existence is checked later."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "Choose at least one Plan.",
        "invalid": "That is not a Plan of this list.",
    }

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(i < 1 or i > MAX_ID for i in ids):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return list(dict.fromkeys(ids))


class AssignForm(forms.Form):
    campaign = forms.IntegerField(
        min_value=1, error_messages={"required": "Select a campaign first."}
    )
    plans = IdListField()
    note = forms.CharField(required=False, max_length=500)

    def clean_plans(self) -> list[int]:
        plans = self.cleaned_data["plans"]
        if len(plans) > 200:
            raise ValidationError("Assign at most 200 Plans at once.")
        return plans


class UnassignForm(forms.Form):
    campaign = forms.IntegerField(min_value=1)
    plan = forms.IntegerField(min_value=1)


class MoveForm(forms.Form):
    campaign = forms.IntegerField(min_value=1)
    plan = forms.IntegerField(min_value=1)
    note = forms.CharField(required=False, max_length=500)


class DriftForm(forms.Form):
    """A drift decision: `drift` is the button pressed, "<action>:<plan pk or all>", and for
    confirm-adopt ":<how many Plans the question named>" (so that a confirmation older than
    another person's decision can say it).

    Actions: adopt (asks for confirmation first), confirm-adopt, keep. The older form of one
    decision for the whole campaign, `decision=adopt_sap|keep_bridge`, still works.
    """

    ACTIONS = ("adopt", "confirm-adopt", "keep")

    campaign = forms.IntegerField(min_value=1)
    drift = forms.CharField(required=False, max_length=40)
    decision = forms.ChoiceField(
        required=False,
        choices=[("adopt_sap", "Adopt SAP MC's side"), ("keep_bridge", "Keep the bridge's")],
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        value = data.get("drift") or {"adopt_sap": "adopt:all", "keep_bridge": "keep:all"}.get(
            data.get("decision") or "", ""
        )
        action, _, rest = value.partition(":")
        target, _, asked = rest.partition(":")
        if (
            action not in self.ACTIONS
            or not (target == "all" or (target.isascii() and target.isdigit()))
            or not (asked == "" or (asked.isascii() and asked.isdigit()))
        ):
            raise ValidationError("Choose a drift decision.")
        data["action"] = action
        data["plan"] = None if target == "all" else int(target)
        data["asked"] = int(asked) if asked else None
        return data


class UndoForm(forms.Form):
    event = forms.IntegerField(min_value=1)


class AuditFilterForm(_DateRangeForm[AuditFilters]):
    filters_class = AuditFilters

    actor = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    # Said by its placeholder: a help text made Django describe the box by an element that the
    # page does not draw.
    campaign = forms.CharField(
        required=False,
        max_length=100,
        label="Campaign",
        widget=forms.TextInput(attrs={"placeholder": "ID or name"}),
    )

    def __init__(self, *args: Any, actors: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(self, "actor", "Anyone", actors)

    def filters_from(self, data: dict[str, Any]) -> AuditFilters:
        return AuditFilters(
            actor=data["actor"],
            campaign=data["campaign"].strip(),
            date_from=data["date_from"],
            date_to=data["date_to"],
        )


# A form without the values it was shown with comes from a page older than this check.
_PAGE_OUT_OF_DATE = "The page was out of date: it now shows the schedule as it is."


class ScheduleForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=7 * 24 * 60, label="Every (minutes)")
    enabled = forms.BooleanField(required=False, label="On")
    # What the page showed: a change made meanwhile in another window is not overwritten.
    seen_minutes = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=0,
        max_value=2**15 - 1,
        error_messages=dict.fromkeys(
            ("required", "invalid", "min_value", "max_value"), _PAGE_OUT_OF_DATE
        ),
    )
    seen_enabled = forms.TypedChoiceField(
        widget=forms.HiddenInput,
        choices=[("on", "on"), ("off", "off")],
        coerce=lambda value: value == "on",
        error_messages={"required": _PAGE_OUT_OF_DATE, "invalid_choice": _PAGE_OUT_OF_DATE},
    )


class CalendarFilterForm(FilterForm[CalendarFilters]):
    filters_class = CalendarFilters

    initiative = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False, label="Campaign status")
    assigned = forms.ChoiceField(
        required=False,
        label="Show",
        choices=[
            ("", "Campaigns and unassigned Plans"),
            ("assigned", "Campaigns only"),
            ("unassigned", "Unassigned Plans only"),
        ],
    )
    q = forms.CharField(required=False, max_length=100, label="Search")

    def __init__(
        self,
        *args: Any,
        initiatives: list[tuple[int, str]],
        statuses: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _offer(self, "initiative", "All Initiatives", initiatives)
        _offer(self, "status", "Any status", statuses)

    def filters_from(self, data: dict[str, Any]) -> CalendarFilters:
        return CalendarFilters(
            initiative=data["initiative"],
            status=data["status"],
            assigned=data["assigned"],
            q=data["q"].strip(),
        )


class _BoundedUsername:
    """Refuse a user name longer than any account's before it reaches authenticate().

    Django's AuthenticationForm sets the field's max_length after the field is built, so it is
    never checked; django-axes would then record the over-long name of a failed login in a
    255-character column, which PostgreSQL refuses with an error (a 500).
    """

    def clean_username(self) -> str:
        username = self.cleaned_data.get("username") or ""  # type: ignore[attr-defined]
        if len(username) > 150:
            raise self.get_invalid_login_error()  # type: ignore[attr-defined]
        return username


class LoginForm(_BoundedUsername, AuthenticationForm):
    pass


class AdminLoginForm(_BoundedUsername, AdminAuthenticationForm):
    pass
