"""The console's GET parameters, validated: who, on which device, at which local moment."""

from collections.abc import Collection, Sequence
from typing import TypeVar

from django import forms
from django.http import QueryDict

from artwork.models import DeviceClass
from config.api.strict import REPEATED_PARAMETER, query_repeated
from config.ids import ID_MAX, IdFormField
from profiles.models import Profile
from recommendations.apis.homepage import MAX_ITEMS, MAX_ROWS

from .moments import WEEKDAYS

HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]


class QueryForm(forms.Form):
    """A console page's query string, in which each parameter is given once.

    Django reads the last of a repeated parameter, so ``?device=tv&device=mobile``
    showed a mobile page without a word; the API refuses it, by the same rule
    (:func:`config.api.strict.query_repeated`) and in the same words. ``repeated``
    may name parameters the view reads beside the form (``account``, ``fragment``):
    each error is keyed by its parameter's name, as a field's is.
    """

    def __init__(self, *args: object, repeated: Collection[str] = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.repeated = tuple(repeated)

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.repeated:
            if name in self.fields:
                self.add_error(name, REPEATED_PARAMETER)
            else:
                self.errors[name] = self.error_class([REPEATED_PARAMETER])


class SearchForm(QueryForm):
    """The household search."""

    q = forms.CharField(required=False, strip=False)


class MomentForm(QueryForm):
    """Device class and local moment; rows and items bound the page like the API's parameters.

    Rows and items are ASCII digits, as the API reads them (``QueryIntegerField``):
    Django's integer field read "٣" as 3, "3_0" as 30 and "+5" as 5.
    """

    device = forms.ChoiceField(choices=DeviceClass.choices)
    weekday = forms.TypedChoiceField(choices=list(enumerate(WEEKDAYS)), coerce=int)
    hour = forms.TypedChoiceField(choices=HOURS, coerce=int)
    rows = IdFormField(min_value=1, max_value=MAX_ROWS)
    items = IdFormField(min_value=1, max_value=MAX_ITEMS)


class PreviewForm(MomentForm):
    """One profile of the household: its homepage; ``version``, a model version to build it
    with instead of the serving one, ``diff``, its rows against the serving version's.

    Which versions may be chosen depends on the version serving the profile, known only
    once its page is built: the view checks ``version`` against them.
    """

    profile = forms.TypedChoiceField(coerce=int)
    version = IdFormField(required=False, min_value=1, max_value=ID_MAX)
    diff = forms.BooleanField(required=False)

    def __init__(self, *args: object, profiles: Sequence[Profile], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].choices = [
            (p.pk, f"{p.name} (kids)" if p.is_kids else p.name) for p in profiles
        ]
        self.order_fields(["profile"])


class WhyForm(MomentForm):
    """One title on one profile's page; ``variant``, ``propensity``: the clicked tile's artwork;
    ``version``: the model version the preview was built with, if one was chosen.

    Ids are read as the household parameter and a path read them (:mod:`config.ids`):
    ASCII digits up to the largest id, so "٢" or "+2" is not profile 2.
    """

    profile = IdFormField(min_value=1, max_value=ID_MAX)
    title = IdFormField(min_value=1, max_value=ID_MAX)
    row = forms.CharField(required=False, max_length=100)
    variant = IdFormField(required=False, min_value=1, max_value=ID_MAX)
    propensity = forms.FloatField(required=False, min_value=0.0, max_value=1.0)
    version = IdFormField(required=False, min_value=1, max_value=ID_MAX)


class RowWhyForm(MomentForm):
    """One candidate row of one profile's page (``row``: its id); without it, every candidate.
    ``version``: the model version the preview was built with, if one was chosen."""

    profile = IdFormField(min_value=1, max_value=ID_MAX)
    row = forms.CharField(required=False, max_length=100)
    version = IdFormField(required=False, min_value=1, max_value=ID_MAX)


QueryFormT = TypeVar("QueryFormT", bound=QueryForm)


def bound_with_defaults(
    form_class: type[QueryFormT],
    query: QueryDict,
    defaults: dict[str, object],
    **kwargs: object,
) -> QueryFormT:
    """Bind the query over defaults: a bare URL shows "now, on a TV" instead of form errors.

    The whole query is looked at for repeats, not only the form's fields: the
    view reads some parameters itself, and ``QueryDict`` hides the repeat.
    """
    data = {name: str(value) for name, value in defaults.items()}
    data.update({name: value for name, value in query.items() if value != ""})
    return form_class(data, repeated=query_repeated(query), **kwargs)
