"""Inline rows whose related-object widgets cost no query each.

Django renders every row of an inline on its own: an autocomplete widget looks
up its selected value (``SELECT ... WHERE pk IN (...)``) and a plain select
lists its whole table, once per row. A person with 75 credits paid some 80
queries for their page. Here the autocomplete widgets take the selected objects
the row's instance already holds (joined or prefetched by the inline's
``get_queryset``), and a plain select's choices are read once per formset.

An inline opts in with ``QueryOncePerInlineMixin``; its ``get_queryset`` must
still ``select_related`` the foreign keys and ``prefetch_related`` the
many-to-many fields it shows with autocomplete, or the widgets fall back to
Django's query per row.
"""

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import FieldDoesNotExist
from django.db.models import ForeignKey, ManyToManyField, Model
from django.forms.models import InlineForeignKeyField
from django.http import HttpRequest


class _SelectedFromInstanceMixin:
    """Builds the selected options from ``loaded`` when it holds every selected value.

    ``loaded`` is None when the instance had nothing loaded (a new row, a field
    not joined): Django's own query then runs, as it does when a re-rendered
    form carries values the instance did not have. The labels are
    ``label_from_instance`` of the loaded objects, as Django's are of the
    queried ones, in the order they were loaded (the model's ordering, for a
    prefetch without its own).
    """

    loaded: Sequence[Model] | None = None

    def optgroups(self, name: str, value: list[str], attr: dict | None = None) -> list:
        if self.loaded is None:
            return super().optgroups(name, value, attr)
        empty = self.choices.field.empty_values
        selected = {str(v) for v in value if str(v) not in empty}
        remote_opts = self.field.remote_field.model._meta
        to_field = getattr(self.field.remote_field, "field_name", remote_opts.pk.attname)
        to_field = remote_opts.get_field(to_field).attname
        by_key = {str(getattr(obj, to_field)): obj for obj in self.loaded}
        if not selected <= by_key.keys():
            return super().optgroups(name, value, attr)

        # The same groups as AutocompleteMixin.optgroups (Django 5.2) builds from its query.
        default: tuple[None, list, int] = (None, [], 0)
        if not self.is_required and not self.allow_multiple_selected:
            default[1].append(self.create_option(name, "", "", False, 0))
        for key, obj in by_key.items():
            if key not in selected:
                continue
            label = self.choices.field.label_from_instance(obj)
            index = len(default[1])
            default[1].append(self.create_option(name, key, label, True, index))
            if not self.allow_multiple_selected:
                break
        return [default]


class AutocompleteSelectFromInstance(_SelectedFromInstanceMixin, AutocompleteSelect):
    pass


class AutocompleteSelectMultipleFromInstance(
    _SelectedFromInstanceMixin, AutocompleteSelectMultiple
):
    pass


def loaded_related(instance: Model, name: str) -> list[Model] | None:
    """The objects ``instance`` holds for relation ``name`` without a query, or None.

    A foreign key counts when it was joined or assigned; a many-to-many field
    when it was prefetched. A new instance has nothing to offer.
    """
    if instance.pk is None:
        return None
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if isinstance(field, ManyToManyField):
        prefetched = getattr(instance, "_prefetched_objects_cache", {})
        return list(prefetched[field.name]) if field.name in prefetched else None
    if isinstance(field, ForeignKey) and field.is_cached(instance):
        related = field.get_cached_value(instance)
        return [] if related is None else [related]
    return None


class InstanceRelationsForm(forms.ModelForm):
    """Hands each autocomplete widget the related objects its instance has loaded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            # The admin wraps the widget for its add/change links.
            widget = getattr(field.widget, "widget", field.widget)
            if isinstance(widget, _SelectedFromInstanceMixin):
                widget.loaded = loaded_related(self.instance, name)


class FixedOnceStoredMixin:
    """A model form whose ``fixed_once_stored`` fields (name -> help text) are chosen when its
    row is added and shown disabled after.

    For relations a row's history is about (a variant's title and picture, a season's
    series, a taste cluster's region). Disabled rather than left out as read-only: Django
    checks no constraint naming a field its form lacks, so a unique slug or a season number
    clashing reached the database as a server error. On an inline, the key to the page's own
    row is fixed already and left as it is.
    """

    fixed_once_stored: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            return
        for name, help_text in self.fixed_once_stored.items():
            field = self.fields.get(name)
            if field is not None and not isinstance(field, InlineForeignKeyField):
                field.disabled = True
                field.help_text = help_text


class QueryOncePerInlineMixin:
    """For an ``InlineModelAdmin`` whose rows must not each query for their widgets.

    Autocomplete fields get the widgets above (a custom ``form`` must derive
    from ``InstanceRelationsForm``); a foreign key shown as a plain select has
    its choices read when the formset is built, once per page, and copied into
    every row. Only rendering changes: validation still checks each submitted
    value against the database.
    """

    form = InstanceRelationsForm

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteSelectFromInstance(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and type(field.widget) is forms.Select:
            field.choices = list(field.choices)
        return field

    def formfield_for_manytomany(
        self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteSelectMultipleFromInstance(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)
