"""Admin's history keeps what staff did to a deleted household or profile, not its name.

Django's admin logs ``str(obj)`` with every addition, change and deletion
(``LogEntry.object_repr``), and the rows an inline changed by theirs in the
parent's change message; it never forgets either. A profile's is its name and
its household's ("Priya (The Sharmas)"), a household's its name, a token's
its household's: after a deletion they stayed, for good, in every staff
member's "Recent actions" and in the household's history. Deletions
(:func:`profiles.services.profile_delete`, :func:`accounts.services.account_delete`)
put the object's kind and id in their place; who did what, when, and to which
id stays, as an audit trail needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet


def deleted_label(model: type[Model], pk: object) -> str:
    """What admin's history calls a deleted object: its kind and id, e.g. "profile 12 (deleted)"."""
    return f"{model._meta.verbose_name} {pk} (deleted)"


def admin_history_forget(
    *,
    objects: Iterable[Model],
    parent: tuple[type[Model], object] | None = None,
    every_inline_name: bool = False,
) -> None:
    """Replace the names admin's history recorded for these objects, being deleted, by labels.

    Their own entries' names, and, in the entries of ``parent`` (the model and id
    whose page shows them as inline rows), the rows that named them: by every name
    their own entries recorded and the one they have now, so a renamed profile goes
    too. ``every_inline_name`` replaces every inline row's name in the objects' own
    entries (a deleted household's page named only its profiles and tokens, deleted
    with it). Meant to run in the deletion's transaction before the rows go, and
    after admin logged the deletion itself (it logs before it deletes).
    """
    names: dict[str, str] = {}
    for obj in objects:
        label = deleted_label(type(obj), obj.pk)
        content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
        entries = LogEntry.objects.filter(content_type=content_type, object_id=str(obj.pk))
        for name in _logged_names(obj):
            names[name] = label
        for name in entries.values_list("object_repr", flat=True).distinct():
            names[name] = label
        entries.exclude(object_repr=label).update(object_repr=label)
        if every_inline_name:
            _inline_names_replace(entries, names=None)
    if parent is not None and names:
        parent_model, parent_pk = parent
        _inline_names_replace(
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(parent_model),
                object_id=str(parent_pk),
            ),
            names=names,
        )


def _logged_names(obj: Model) -> set[str]:
    """``str(obj)``, and its full name where admin read it calling its household by its id
    (``household_shown_as``, ``config.admin_households``): others' entries logged that."""
    names = {str(obj)}
    shown = getattr(obj, "household_shown_as", None)
    if shown:
        obj.household_shown_as = None
        try:
            names.add(str(obj))
        finally:
            obj.household_shown_as = shown
    return names


def _inline_names_replace(entries: QuerySet[LogEntry], *, names: dict[str, str] | None) -> None:
    """Rewrite the inline rows' names in ``entries``' change messages: those in ``names`` (to
    their labels), or every one (to "(deleted)") when ``names`` is None."""
    if names is not None:
        mentions = Q()
        for name in names:
            mentions |= Q(change_message__contains=json.dumps(name))
        entries = entries.filter(mentions)
    for entry in entries.exclude(change_message="").only("pk", "change_message"):
        messages, rows = change_message_rows(entry.change_message)
        changed = False
        for row in rows:
            if "object" not in row:
                continue
            new = "(deleted)" if names is None else names.get(row["object"])
            if new and row["object"] != new:
                row["object"] = new
                changed = True
        if changed:
            LogEntry.objects.filter(pk=entry.pk).update(change_message=json.dumps(messages))


def change_message_rows(change_message: str) -> tuple[list, list[dict]]:
    """Admin's change message, parsed, and the inline rows it names (``{"name": kind,
    "object": row}`` under each of its added, changed and deleted), to rewrite in place.

    A message admin did not write as JSON (an older Django's, a hand-made entry) names no
    row: ``([], [])``.
    """
    try:
        messages = json.loads(change_message or "[]")
    except ValueError:
        return [], []
    if not isinstance(messages, list):
        return [], []
    rows = [
        part
        for message in messages
        if isinstance(message, dict)
        for part in message.values()
        if isinstance(part, dict)
    ]
    return messages, rows


def inline_deletions_unnamed(messages: list[dict]) -> list[dict]:
    """``messages`` (admin's change message of a page) with the rows it deleted named by their
    kind only: admin logs the page's change after the rows are deleted, so
    :func:`admin_history_forget` ran before it and cannot reach it."""
    for message in messages:
        deleted = message.get("deleted")
        if isinstance(deleted, dict) and "object" in deleted:
            deleted["object"] = f"{deleted.get('name', 'row')} (deleted)"
    return messages
