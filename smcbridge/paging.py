"""Page numbers from query strings, read alike on every paged page."""

from __future__ import annotations

from typing import TypeVar

from django.core.paginator import Page, Paginator

T = TypeVar("T")


def page_number(value: object) -> int:
    """The page a query parameter asks for: the first for junk, zero or less (Django's
    get_page() gave the last for "0" or "-3" and the first for "abc")."""
    try:
        return max(1, int(str(value or 1)))
    except ValueError:
        return 1


def page_of(paginator: Paginator[T], value: object) -> Page[T]:
    """The page of `paginator` that `value` asks for (page_number()); past the end, the last."""
    return paginator.get_page(page_number(value))
