"""Which fields a model's ``save()`` override is about to write, for the overrides that
refuse a write (a moved season, a region's zone that is not an IANA name)."""

from typing import Any

from django.db.models import Model


def saved_field_names(instance: Model, kwargs: dict[str, Any]) -> frozenset[str]:
    """The names of the fields that ``instance.save(**kwargs)`` writes.

    ``update_fields`` may be any iterable: a generator was consumed by the override's own
    ``"x" in update_fields``, and Django then wrote no field (or failed an assertion).
    It is made a frozenset in ``kwargs`` here, once, so that the save that follows writes
    what was tested. A foreign key named by its column (``season_id``), which Django
    takes too, counts as its field, so that it is refused as the field is. Without
    ``update_fields``, a deferred field is not written (Django saves the loaded ones only).
    """
    by_attname = {field.attname: field.name for field in instance._meta.concrete_fields}
    update_fields = kwargs.get("update_fields")
    if update_fields is None:
        deferred = instance.get_deferred_fields()
        return frozenset(name for attname, name in by_attname.items() if attname not in deferred)
    kwargs["update_fields"] = update_fields = frozenset(update_fields)
    return frozenset(by_attname.get(name, name) for name in update_fields)
