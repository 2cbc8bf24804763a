"""Write sapmc/inbound/openapi.json from the inbound API's pydantic models (see schema.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sapmc.inbound import schema
from sapmc.inbound.views import OPENAPI_PATH


class Command(BaseCommand):
    help = "Generate the inbound API's OpenAPI 3.0.3 document (sapmc/inbound/openapi.json)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit with an error when the committed file is stale.",
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        text = schema.document_text()
        current = OPENAPI_PATH.read_text(encoding="utf-8") if OPENAPI_PATH.exists() else ""
        if check:
            if current != text:
                raise CommandError(
                    f"{OPENAPI_PATH} is stale: run `python manage.py openapi_inbound`."
                )
            self.stdout.write(f"{OPENAPI_PATH} is up to date.")
            return
        if current == text:
            self.stdout.write(f"{OPENAPI_PATH} is up to date.")
            return
        OPENAPI_PATH.write_text(text, encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Wrote {OPENAPI_PATH}."))
