"""The serving arrays of artwork are read as one consistent picture of themes and variants."""

import pytest
from django.db import connection

from artwork.models import ArtworkTheme
from artwork.selection import artwork_arms_load
from tests.factories import ArtworkThemeFactory, ArtworkVariantFactory

pytestmark = pytest.mark.django_db


def test_a_theme_given_to_a_variant_while_the_arms_are_read_does_not_break_the_load():
    # given: an active variant with a theme
    variant = ArtworkVariantFactory()
    variant.themes.add(ArtworkThemeFactory(slug="action"))
    tagged = {}

    def staff_tag_it_meanwhile(execute, sql, params, many, context):
        # Right after the load's first read of the theme table, staff create a theme and
        # give it to the variant (committed between the load's statements in production).
        result = execute(sql, params, many, context)
        if '"artwork_artworktheme"' in sql and not tagged:
            tagged["done"] = True  # before the writes, which pass through here too
            variant.themes.add(ArtworkTheme.objects.create(slug="aaa-new", name="New"))
        return result

    # when
    with connection.execute_wrapper(staff_tag_it_meanwhile):
        arms = artwork_arms_load()

    # then: the load ends (it raised KeyError: 'aaa-new', a 500 on a cold process's first
    # page), and the variant keeps the theme it was read with
    assert tagged
    assert arms.variant.tolist() == [variant.pk]
    assert "action" in arms.theme_slugs
    assert arms.themes[0, arms.theme_slugs.index("action")]
