"""The bridge's own system checks and `check --deploy` warnings (smcbridge.checks), read in this
process."""

from __future__ import annotations


def test_check_deploy_warns_when_sap_mc_calls_have_no_password(settings):
    """With DEBUG off and no SAPMC_INBOUND_PASSWORD every SAP MC call is refused (401); under
    DEBUG the demo's password stands in, and a set password is quiet."""
    from smcbridge.checks import inbound_password_missing

    settings.DEBUG = False
    settings.SAPMC_INBOUND_PASSWORD = ""
    [warning] = inbound_password_missing(None)
    assert warning.id == "smcbridge.W003"
    assert "SAPMC_INBOUND_PASSWORD is not set" in warning.msg
    settings.SAPMC_INBOUND_PASSWORD = "a-real-one"
    assert inbound_password_missing(None) == []
    settings.DEBUG = True
    settings.SAPMC_INBOUND_PASSWORD = ""
    assert inbound_password_missing(None) == []


def test_an_email_backend_that_names_no_class_is_an_error(settings):
    # Imported only by the first alert: "smtp" passed every start and no email was ever sent.
    from smcbridge.checks import email_backend_importable

    for wrong in ("smtp", "django.core.mail.backends.smtp.Backend"):
        settings.EMAIL_BACKEND = wrong
        [error] = email_backend_importable(None)
        assert error.id == "smcbridge.E001" and error.is_serious()
        assert f"EMAIL_BACKEND {wrong!r} names no importable class" in error.msg
    for right in ("smtp", "console", "locmem"):
        settings.EMAIL_BACKEND = f"django.core.mail.backends.{right}.EmailBackend"
        assert email_backend_importable(None) == []


def test_check_fails_with_an_email_backend_that_names_no_class(tmp_path):
    # As every command that runs the system checks first: migrate, and qcluster, the worker
    # that sends the alerts (django-q2 leaves Django's requires_system_checks as it is).
    from tests.conftest import django_start

    code = "from django.core.management import execute_from_command_line;"
    code += "execute_from_command_line(['manage.py', 'check'])"
    environ = {"EMAIL_BACKEND": "smtp", "SMCBRIDGE_VAR_DIR": str(tmp_path)}
    started = django_start(environ, code)
    assert started.returncode != 0
    assert "(smcbridge.E001) EMAIL_BACKEND 'smtp' names no importable class" in started.stderr
    assert django_start({"SMCBRIDGE_VAR_DIR": str(tmp_path)}, code).returncode == 0
