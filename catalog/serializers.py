"""Input fields the catalogue gives other apps' serializers."""

from typing import Any

from rest_framework import serializers

from .models import Language


class LanguageCodeField(serializers.SlugRelatedField):
    """A language by its code (``"ta"``), refused in the API's words rather than the ORM's.

    DRF's own sentence is ``Object with code=xx does not exist.``: the model's
    lookup, not what the client sent. A value that is not a string (``5``,
    ``{}``) is not a code at all, though the lookup would look ``5`` up as "5";
    nor is one holding a NUL character, which PostgreSQL refuses to compare
    (an error, a 500, rather than no row).
    Set on the class rather than as ``error_messages=`` so that ``many=True``
    gives each item the same words: DRF hands ``error_messages`` to the list.
    """

    default_error_messages = {
        "does_not_exist": 'No language with code "{value}".',
        "invalid": 'Must be a language code, such as "ta".',
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "code")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Language.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Language:
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)
