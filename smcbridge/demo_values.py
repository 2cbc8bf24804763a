"""The demo's values of the settings that name an external system: the simulators' addresses,
credentials and analytics field ids. They are the defaults, so that the tests and `make run` need
no configuration; `check --deploy` warns of each one a deployment left as it is."""

from __future__ import annotations

KHOROS_BASE_URL = "http://127.0.0.1:8701/v2"
KHOROS_TOKEN = "demo-token"
KHOROS_COMPANY_ID = "389"
# The simulator's analytics field ids; a company's own are not public (docs/khoros-api.md).
KHOROS_KPI_FIELDS = {
    "impressions": 101, "engagements": 102, "clicks": 103, "reach": 104, "video_views": 105,
}  # fmt: skip
KHOROS_EXPORT_FIELD_POST_ID = 11
KHOROS_EXPORT_FIELD_PLAN = 12
KHOROS_EXPORT_FIELD_PUBLISHED = 13
SAPMC_BASE_URL = "http://127.0.0.1:8702"
SAPMC_USER = "demo-user"
SAPMC_PASSWORD = "demo-password"

# Setting name -> its demo value.
DEMO_VALUES: dict[str, object] = {
    "KHOROS_BASE_URL": KHOROS_BASE_URL,
    "KHOROS_TOKEN": KHOROS_TOKEN,
    "KHOROS_COMPANY_ID": KHOROS_COMPANY_ID,
    "KHOROS_KPI_FIELDS": KHOROS_KPI_FIELDS,
    "KHOROS_EXPORT_FIELD_POST_ID": KHOROS_EXPORT_FIELD_POST_ID,
    "KHOROS_EXPORT_FIELD_PLAN": KHOROS_EXPORT_FIELD_PLAN,
    "KHOROS_EXPORT_FIELD_PUBLISHED": KHOROS_EXPORT_FIELD_PUBLISHED,
    "SAPMC_BASE_URL": SAPMC_BASE_URL,
    "SAPMC_USER": SAPMC_USER,
    "SAPMC_PASSWORD": SAPMC_PASSWORD,
}
