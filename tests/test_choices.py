"""get_FOO_display() of the models that gather their labels once (smcbridge.choices) says
what Django's own says, for every choice and for a stored value that is none."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Model

from smcbridge.choices import QuickChoiceLabels


def test_every_label_is_the_one_django_gives():
    models = [m for m in apps.get_models() if issubclass(m, QuickChoiceLabels)]
    assert {m.__name__ for m in models} >= {"SyncRun", "Notification", "AuditEvent", "SuccessSent"}
    checked = 0
    for model in models:
        for field in model._meta.concrete_fields:
            if not field.choices:
                continue
            for value in [*(value for value, _ in field.flatchoices), "no-such-choice"]:
                row = model(**{field.attname: value})
                ours = getattr(row, f"get_{field.name}_display")()
                assert ours == Model._get_FIELD_display(row, field), (model, field.name, value)
                assert ours != value or value == "no-such-choice"  # a label, not the key
                checked += 1
    assert checked >= 40
