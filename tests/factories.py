"""factory_boy factories for the whole suite: small, valid objects with sensible defaults."""

import datetime as dt
import io
import uuid
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import Account
from artwork.models import ArtworkTheme, ArtworkVariant
from catalog.models import (
    Credit,
    Episode,
    Genre,
    Language,
    MaturityLevel,
    Person,
    Season,
    Tag,
    Title,
    TitleLocalization,
)
from profiles.models import Profile
from recommendations.models import Signal, SignalKind
from regions.models import Availability, Region, TasteCluster
from regions.services import region_create, taste_cluster_create


def image_file(
    name: str = "art.jpg", size: tuple[int, int] = (320, 180), fmt: str = "JPEG"
) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


class LanguageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Language
        django_get_or_create = ("code",)

    code = "en"
    name = "English"
    native_name = "English"


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = "IN"
    name = "India"
    default_language = factory.SubFactory(
        LanguageFactory, code="hi", name="Hindi", native_name="हिन्दी"
    )
    time_zone = "Asia/Kolkata"

    @classmethod
    def _create(cls, model_class: type[Region], *args: Any, **kwargs: Any) -> Region:
        """Made as admin and scripts make regions, its nightly retrain installed on commit;
        one of the code that exists is the one returned (``django_get_or_create``)."""
        existing = Region.objects.filter(code=kwargs["code"]).first()
        if existing is not None:
            return existing
        if "default_language_id" in kwargs:  # named by its code, as Django takes it too
            kwargs["default_language"] = kwargs.pop("default_language_id")
        return region_create(**kwargs)


class TasteClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TasteCluster

    region = factory.SubFactory(RegionFactory)
    slug = factory.Sequence(lambda n: f"cluster-{n}")
    name = factory.Sequence(lambda n: f"Cluster {n}")

    @classmethod
    def _create(cls, model_class: type[TasteCluster], *args: Any, **kwargs: Any) -> TasteCluster:
        """Made as staff and the seeder make clusters: a region's first is its default."""
        if "region_id" in kwargs:  # named by its code, as Django takes it too
            kwargs["region"] = kwargs.pop("region_id")
        return taste_cluster_create(**kwargs)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Household {n}")
    home_region = factory.SubFactory(RegionFactory)


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Profile {n}")
    slot = factory.LazyAttribute(lambda o: o.account.profiles.count() + 1)


class GenreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Genre
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"genre-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tag-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Sequence(lambda n: f"Person {n}")


class TitleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Title

    kind = Title.Kind.FILM
    original_name = factory.Sequence(lambda n: f"Title {n}")
    original_language = factory.SubFactory(LanguageFactory)
    release_date = dt.date(2020, 1, 1)
    runtime_minutes = 110
    maturity = MaturityLevel.ALL


class SeasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Season

    title = factory.SubFactory(TitleFactory, kind=Title.Kind.SERIES, runtime_minutes=45)
    number = factory.Sequence(lambda n: n + 1)


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Episode

    season = factory.SubFactory(SeasonFactory)
    number = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Episode {n}")
    runtime_minutes = 45


class CreditFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Credit

    title = factory.SubFactory(TitleFactory)
    person = factory.SubFactory(PersonFactory)
    role = Credit.Role.ACTOR


class TitleLocalizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TitleLocalization

    title = factory.SubFactory(TitleFactory)
    language = factory.SubFactory(LanguageFactory)
    name = factory.Sequence(lambda n: f"Localised {n}")


class AvailabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Availability

    title = factory.SubFactory(TitleFactory)
    region = factory.SubFactory(RegionFactory)


class ArtworkThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ArtworkTheme
        django_get_or_create = ("slug",)

    slug = "action"
    name = factory.LazyAttribute(lambda o: o.slug.title())


class ArtworkVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ArtworkVariant

    title = factory.SubFactory(TitleFactory)
    label = factory.Sequence(lambda n: f"Variant {n}")
    image = factory.LazyFunction(image_file)


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    profile = factory.SubFactory(ProfileFactory)
    title = factory.SubFactory(TitleFactory)
    kind = SignalKind.PLAY_START
    device = "tv"
    occurred_at = factory.LazyFunction(timezone.now)
    client_event_id = factory.LazyFunction(uuid.uuid4)
