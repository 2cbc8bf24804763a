"""What the Khoros and SAP MC payload models share: the strict wire-name model base and turning
a failed validation into one sentence naming the field, raised as the system's own error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class WirePayload(BaseModel):
    # Only the wire names: an unknown extra field spelled like one of our attributes (say
    # "target_audience" or "campaign_id") must be ignored like any other extra, not read as it.
    model_config = ConfigDict(
        frozen=True, strict=True, extra="ignore", validate_by_name=False, validate_by_alias=True
    )


M = TypeVar("M", bound=WirePayload)


def explain(exc: ValidationError, *, phrases: bool = False) -> str:
    """The first problem of a failed validation, in words: the field and what is wrong.

    phrases: a validator's message that reads as the end of a sentence ("missing", "is ...",
    "must ...") is put after the field's name, as SAP MC's checks word theirs.
    """
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"missing {where}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if phrases and message in ("missing", "empty"):
        return f"{message} {where}"
    if phrases and message.startswith(("is ", "must ", "were ", "came ")):
        return f"{where} {message}"
    return f"{where}: {message}" if where else message


def validate(
    model: type[M],
    item: object,
    what: str,
    *,
    bad: Callable[[str], Exception],
    phrases: bool = False,
    context: dict[str, object] | None = None,
) -> M:
    """item validated as model, or bad(a sentence starting with what) raised."""
    if not isinstance(item, dict):
        raise bad(f"{what}: expected an object, got {type(item).__name__}")
    try:
        return model.model_validate(item, context=context)
    except ValidationError as exc:
        raise bad(f"{what}: {explain(exc, phrases=phrases)}") from None
    except RecursionError:
        raise bad(f"{what}: nested too deep") from None
