"""Model signal receivers that raise the catalogue's revision (:func:`catalogue_changed`).

Connected in the apps' ``ready()``: the catalogue's own models here, the
regions' (availability windows, time zones) by ``regions.apps``. Only models
whose fields serving reads from the catalogue arrays are watched; names and
labels have their own fingerprinted refresh (``serving/title_tables.py``).
"""

from typing import Any

from django.db.models.signals import post_delete, post_save

from .services import catalogue_changed


def revision_raise(**_: Any) -> None:
    """Any save or delete of a watched model; the fields are not inspected (edits are rare)."""
    catalogue_changed()


def revision_raise_on_m2m(*, action: str, **_: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        catalogue_changed()


def connect(*senders: str) -> None:
    """Raise the revision on every save and delete of ``senders`` (``"app.Model"``)."""
    for sender in senders:
        uid = f"catalogue-revision:{sender}"
        post_save.connect(revision_raise, sender=sender, dispatch_uid=f"{uid}:save", weak=False)
        post_delete.connect(revision_raise, sender=sender, dispatch_uid=f"{uid}:delete", weak=False)
