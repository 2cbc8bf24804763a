"""The API SAP MC calls under /sapmc/extcamp/v1/ (docs/sapmc-api.md part 1), and its call log."""
