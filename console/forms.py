"""The console's GET parameters, validated: who, on which device, at which local moment."""

from collections.abc import Sequence

from django import forms

from artwork.models import DeviceClass
from profiles.models import Profile
from recommendations.apis.homepage import MAX_ITEMS, MAX_ROWS

from .moments import WEEKDAYS

HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]


class MomentForm(forms.Form):
    """Device class and local moment; rows and items bound the page like the API's parameters."""

    device = forms.ChoiceField(choices=DeviceClass.choices)
    weekday = forms.TypedChoiceField(choices=list(enumerate(WEEKDAYS)), coerce=int)
    hour = forms.TypedChoiceField(choices=HOURS, coerce=int)
    rows = forms.IntegerField(min_value=1, max_value=MAX_ROWS)
    items = forms.IntegerField(min_value=1, max_value=MAX_ITEMS)


class PreviewForm(MomentForm):
    """One profile of the household: its homepage."""

    profile = forms.TypedChoiceField(coerce=int)

    def __init__(self, *args: object, profiles: Sequence[Profile], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].choices = [
            (p.pk, f"{p.name} (kids)" if p.is_kids else p.name) for p in profiles
        ]
        self.order_fields(["profile"])


class WhyForm(MomentForm):
    """One title on one profile's page; ``variant``, ``propensity``: the clicked tile's artwork."""

    profile = forms.IntegerField(min_value=1)
    title = forms.IntegerField(min_value=1)
    row = forms.CharField(required=False, max_length=100)
    variant = forms.IntegerField(required=False, min_value=1)
    propensity = forms.FloatField(required=False, min_value=0.0, max_value=1.0)


def bound_with_defaults(
    form_class: type[forms.Form],
    query: dict[str, str],
    defaults: dict[str, object],
    **kwargs: object,
) -> forms.Form:
    """Bind the query over defaults: a bare URL shows "now, on a TV" instead of form errors."""
    data = {name: str(value) for name, value in defaults.items()}
    data.update({name: value for name, value in query.items() if value != ""})
    return form_class(data, **kwargs)
