"""The bridge's own `check --deploy` warnings (smcbridge.checks), read in this process."""

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
