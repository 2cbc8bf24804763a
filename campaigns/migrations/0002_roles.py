"""Create the two roles of design.md "Access" as groups."""

from __future__ import annotations

from django.db import migrations

ROLES = ("Sync admins", "Marketing managers")


def create_roles(apps, schema_editor) -> None:  # noqa: ANN001 - migration signature
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
