"""The ``device`` query parameter of every page and list drawn for a screen."""

from rest_framework import serializers

from artwork.models import DeviceClass
from config.api.strict import KnownParametersOnly, choice_errors, one_of


class DeviceQuerySerializer(KnownParametersOnly):
    """The device class a homepage, a recommendation list or Continue Watching is drawn for.

    Required everywhere, with one vocabulary and one 400: the device is a ranking feature,
    chooses the frames, and a homepage is logged with it (the artwork policy learns take
    rates per device class), so a phone that forgot to say so must not be served, ranked or
    logged as a TV. The endpoints' own parameters extend this serializer.
    """

    device = serializers.ChoiceField(
        choices=DeviceClass.choices,
        help_text="The device class asking.",
        error_messages={
            "required": f"Required: {one_of(DeviceClass.values)}.",
            **choice_errors(DeviceClass.values),
        },
    )
