"""Writes of the calendar's planning tools: a person's saved filter variants."""

from __future__ import annotations

from typing import Literal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import QueryDict

from campaigns.models import SavedView

# Keys a saved view keeps: what was filtered and how it was looked at, never where or which page.
SAVED_KEYS = ("initiative", "status", "assigned", "q", "zoom", "sort")
SAVED_VIEWS_PER_USER = 50


class SavedViewError(Exception):
    """A saved view the rules refuse; the message is meant for the person who asked."""


def saved_query(query: QueryDict) -> str:
    """The part of a calendar query string a saved view keeps."""
    kept = QueryDict(mutable=True)
    for key in SAVED_KEYS:
        value = query.get(key, "").strip()
        if value:
            kept[key] = value[:200]
    return kept.urlencode()


# What saving a view did: a new one, another's filters replaced, or nothing (it kept these).
SavedOutcome = Literal["saved", "replaced", "already"]


@transaction.atomic
def saved_view_create(*, user: User, name: str, query: QueryDict) -> tuple[SavedView, SavedOutcome]:
    """Save the filters of `query` under `name` for `user`; the same name replaces the old one.

    Returns the view and what was done, which the person is told: a second window saving under
    a name taken meanwhile replaced it without a word, and the same form sent twice (a reload,
    a double click) said the second time that the filters kept before were gone.
    """
    name = " ".join(name.split())[:80]
    if not name:
        raise SavedViewError("Give the view a name.")
    kept = saved_query(query)
    existing = SavedView.objects.select_for_update().filter(user=user, name=name).first()
    if existing is not None:
        if existing.query == kept:
            return existing, "already"
        existing.query = kept
        existing.save(update_fields=["query"])
        return existing, "replaced"
    # The person's row, locked, makes their saves take turns: two windows saving two new names
    # at once both counted 49 on PostgreSQL, and the person had 51.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    if SavedView.objects.filter(user=user).count() >= SAVED_VIEWS_PER_USER:
        raise SavedViewError(f"You have {SAVED_VIEWS_PER_USER} saved views: delete one first.")
    try:
        with transaction.atomic():
            return SavedView.objects.create(user=user, name=name, query=kept), "saved"
    except IntegrityError:
        # Saved under this name by another window at the same moment: the same filters are
        # what was asked for; others are not replaced unseen.
        same = SavedView.objects.filter(user=user, name=name, query=kept).first()
        if same is not None:
            return same, "already"
        raise SavedViewError(f"A view named “{name}” was just saved: try again.") from None


def saved_view_delete(*, user: User, pk: int) -> bool:
    """Delete one of `user`'s saved views; another person's is never touched."""
    deleted, _ = SavedView.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)
