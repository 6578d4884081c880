"""Input fields the catalogue gives other apps' serializers."""

from typing import Any

from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

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

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> "LanguageCodeListField":
        list_kwargs = {key: kwargs[key] for key in kwargs if key in MANY_RELATION_KWARGS}
        return LanguageCodeListField(child_relation=cls(*args, **kwargs), **list_kwargs)

    def to_internal_value(self, data: Any) -> Language:
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class LanguageCodeListField(serializers.ManyRelatedField):
    """A list of language codes, each at most once (``LanguageCodeField(many=True)``).

    DRF looks each item up on its own and the relation's ``set()`` then drops the
    repeats: a 2 MiB body repeating one code was some 350,000 queries, minutes of a
    request, and the repeats went without a word, where the API drops nothing a client
    sends. A repeat is refused where it stands, so a list costs at most a query per
    language the catalogue has.
    """

    default_error_messages = {
        "repeated": '"{value}" is given more than once: give each language once.',
    }

    def to_internal_value(self, data: Any) -> list[Language]:
        if isinstance(data, str) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not self.allow_empty and len(data) == 0:
            self.fail("empty")
        languages: dict[str, Language] = {}
        for item in data:
            language = self.child_relation.to_internal_value(item)
            if language.pk in languages:
                self.fail("repeated", value=item)
            languages[language.pk] = language
        return list(languages.values())
