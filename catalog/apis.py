"""A title's detail page, as a client app shows it when a tile is opened."""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import account_for_request
from artwork.models import ArtworkVariant, DeviceClass
from artwork.selectors import variant_image_urls
from config.api.schema import PROFILE_LOCKED
from config.api.strict import KnownParametersOnly, choice_errors
from config.api.throttling import HOUSEHOLD_READS
from config.ids import IdField
from profiles.selectors import profile_get
from profiles.unlock import UNLOCK_HEADER, profile_unlock_check

from .models import Credit, MaturityLevel, Title
from .selectors import title_detail_get
from .serializers import LanguageCodeField


class TitleQuerySerializer(KnownParametersOnly):
    language = LanguageCodeField(
        required=False,
        help_text="Language of name, synopsis and `localized_genres` (the name and synopsis "
        "fall back to the original, a genre to English); default the profile's display "
        "language. A catalogue language's code, ISO 639-1 in lower case, e.g. 'pt' (not "
        "'pt-BR' or 'PT'); the API reads no Accept-Language.",
    )
    device = serializers.ChoiceField(
        choices=DeviceClass.choices,
        required=False,
        help_text="The device class asking: each artwork's `url` is then its copy sized for "
        "that class (`urls[device]`). Without it, `url` is the image as uploaded, as before.",
        error_messages=choice_errors(DeviceClass.values),
    )
    profile = IdField(
        help_text=(
            "The profile that opens the title: its maturity limit applies (to the title and "
            "its artwork) and its display language is the default."
        ),
        error_messages={
            "required": (
                "Required: the id of the profile opening the title (its maturity limit applies)."
            )
        },
    )


class EpisodeSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Episode id, as `episode` on signals.")
    number = serializers.IntegerField(help_text="Its number within its season.")
    name = serializers.CharField(help_text="The episode's name, as released: not localised.")
    runtime_minutes = serializers.IntegerField(help_text="Length in minutes.")
    finished = serializers.BooleanField(
        help_text="Whether the profile has finished this episode (ever: a rewatch under way "
        "does not unfinish it). Beside the episode, so that an episode list draws its ticks "
        "from the rows it iterates; the one partly watched is `viewing.resume`."
    )


class SeasonSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Season id.")
    number = serializers.IntegerField(help_text="The season's number.")
    name = serializers.CharField(
        help_text="The season's name as staff gave it, not localised (the demo's read "
        "'Season 1'): to say 'Season 1' in the profile's language, use `number`."
    )
    release_date = serializers.DateField(
        allow_null=True,
        help_text="When it comes out (from midnight UTC); null: out, date unknown. A season "
        "whose date is still to come is announced, not out: Continue Watching neither counts "
        "its episodes as left to watch nor offers one to resume.",
    )
    episodes = EpisodeSerializer(many=True, help_text="Its episodes, in order.")


class CreditSerializer(serializers.Serializer):
    person = serializers.CharField(source="person.name", help_text="The person's name.")
    role = serializers.ChoiceField(
        choices=Credit.Role.choices, help_text="actor, director, writer or creator."
    )
    character = serializers.CharField(help_text="The character an actor plays; empty otherwise.")


class VariantUrlsSerializer(serializers.Serializer):
    """One URL per device class, so a client (or a cache in front of several) can pick."""

    tv = serializers.CharField(help_text="Absolute URL of the image sized for a TV.")
    mobile = serializers.CharField(help_text="Absolute URL of the image sized for a phone.")
    tablet = serializers.CharField(help_text="Absolute URL of the image sized for a tablet.")
    web = serializers.CharField(help_text="Absolute URL of the image sized for a browser.")


class VariantSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Artwork variant id.")
    label = serializers.CharField(help_text="A short name of the image, e.g. 'Rooftop chase'.")
    url = serializers.CharField(
        help_text="Absolute URL of the image: sized for `device` when the request names one "
        "(as `urls[device]`), else the image as uploaded (up to 4,096 pixels wide)."
    )
    urls = VariantUrlsSerializer(
        help_text="Absolute URL of the image per device class, each no wider than that class "
        "shows it (tv 1,280, tablet 800, web 640, mobile 400 pixels; never enlarged: an image "
        "already that narrow is the uploaded one). A copy not made yet (an image stored "
        "before copies were made, until `make_artwork_renditions` runs) is the uploaded image."
    )
    themes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Slugs of what the image shows, e.g. 'action', 'lead-face'.",
    )
    device_classes = serializers.ListField(
        child=serializers.ChoiceField(choices=DeviceClass.choices),
        help_text="The device classes it is made for: tv, mobile, tablet, web.",
    )


class ResumePointSerializer(serializers.Serializer):
    episode_id = serializers.IntegerField(
        allow_null=True, help_text="The series' episode Play starts; null for a film."
    )
    season_number = serializers.IntegerField(
        allow_null=True, help_text="That episode's season; null for a film."
    )
    episode_number = serializers.IntegerField(
        allow_null=True, help_text="That episode's number in its season; null for a film."
    )
    progress = serializers.FloatField(
        help_text="Percent into the film or that episode where playback resumes: above 0 "
        'a "Resume" (and the episode\'s progress bar), 0 from its start.'
    )
    new_episodes = serializers.BooleanField(
        help_text="Whether Play starts an episode that came out (or was added) after the "
        "profile finished the series, as a 'New Episodes' badge says: true when it had "
        "finished every episode out and has not finished this one, and is not rewatching "
        "(a series played again since and stopped midway). False for a film, and when the "
        "series is started again from its first episode."
    )


class LocalizedGenreSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="Genre id: the homepage's row of this genre is `genre:<id>`."
    )
    name = serializers.CharField(
        help_text="The genre's name in the language asked for (`language`, else the "
        "profile's display language), as the homepage's row of the genre titles it; English "
        "where no translation exists, or without a language. That is the language of `name` "
        "and `synopsis` where the title is localised in it; where they fall back to the "
        "original's, the genres stay in the language asked for."
    )


class TitleViewingSerializer(serializers.Serializer):
    thumbs = serializers.ChoiceField(
        choices=["up", "down"],
        allow_null=True,
        help_text="The profile's rating of the title; null when it has none.",
    )
    finished = serializers.BooleanField(
        help_text="Whether the profile has finished the film, or every episode out of the "
        "series (it stays true when a new season comes out; the new episodes are not)."
    )
    resume = ResumePointSerializer(
        allow_null=True,
        help_text="Where Play starts, by the rule of Continue Watching: the episode "
        "stopped midway (a rewatch under way too), else the next episode out not finished "
        "(a series back for a new season: that season's first; a season announced is never "
        "entered). A finished title, or a film stopped before 2% or after 95%, starts "
        "again from the beginning (a series from its first episode out), progress 0. Null "
        "when the profile never played the title.",
    )


class TitleDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Title id.")
    kind = serializers.ChoiceField(choices=Title.Kind.choices, help_text="film or series.")
    name = serializers.CharField(help_text="Localised when a translation exists.")
    synopsis = serializers.CharField(help_text="Localised when a translation exists.")
    original_name = serializers.CharField(help_text="The name in its original language.")
    original_language = serializers.CharField(help_text="ISO 639-1 code, e.g. 'ta'.")
    release_date = serializers.DateField(help_text="When it was first released.")
    runtime_minutes = serializers.IntegerField(
        help_text="Film length, or the typical episode length of a series, in minutes."
    )
    maturity = serializers.ChoiceField(
        choices=MaturityLevel.choices,
        help_text="Its maturity rating: 0 (all ages), 7, 13, 16 or 18.",
    )
    maturity_label = serializers.CharField(
        help_text="That rating as people read it, e.g. '13+' ('All ages' for 0), in English: "
        "the labels of a profile's `maturity_label`, on the same scale.",
    )
    critic_score = serializers.IntegerField(
        allow_null=True, help_text="0-100 aggregate of critics' reviews; null when unknown."
    )
    genres = serializers.ListField(
        child=serializers.CharField(),
        help_text="Genre names, in English whatever the language (`localized_genres` has "
        "them in the language asked for).",
    )
    localized_genres = LocalizedGenreSerializer(
        many=True,
        help_text="The same genres in the same order, each with its id and its name in the "
        "language asked for (that of `name` and `synopsis` where the title is localised in it), "
        "as the homepage's genre rows name them.",
    )
    seasons = SeasonSerializer(many=True, help_text="A series' seasons in order; empty for a film.")
    credits = CreditSerializer(
        many=True,
        help_text="Cast and crew, by role (actor, creator, director, writer), each role in "
        "billing order, credits billed alike in the order they were added: the same order "
        "from one request to the next, whatever staff edit.",
    )
    artwork = VariantSerializer(
        many=True,
        help_text="Its active images within the profile's maturity limit, for every device "
        "class, in the order they were added.",
    )
    viewing = TitleViewingSerializer(
        help_text="What the profile has done with the title: its rating, whether it finished "
        "it, and where Play starts."
    )


class TitleDetailApi(APIView):
    schema_errors = {  # config.api.schema
        "GET": {403: PROFILE_LOCKED}
    }
    throttle_scopes = HOUSEHOLD_READS  # config.api.throttling

    @extend_schema(
        operation_id="titles_retrieve",
        summary="A title's detail page: localised text, seasons, credits, artwork, viewing",
        description=(
            "With the profile's own viewing state (`viewing`, and `finished` on each episode). "
            "Only titles available in the account's region now and within the profile's "
            "maturity limit (404 otherwise); only artwork within that limit. `profile` is "
            "required (400 without it), so a kids device cannot leave its limit out. A "
            f"PIN-protected profile needs the `{UNLOCK_HEADER}` header (403 `profile_locked`)."
        ),
        parameters=[
            TitleQuerySerializer,
            OpenApiParameter(
                UNLOCK_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Unlock token of a PIN-protected profile.",
            ),
        ],
        responses={200: TitleDetailSerializer},
    )
    def get(self, request: Request, title_id: int) -> Response:
        account = account_for_request(request)
        query = TitleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        profile = profile_get(
            account=account, profile_id=query.validated_data["profile"], for_display=False
        )
        profile_unlock_check(request=request, profile=profile)
        asked = query.validated_data.get("language")
        device = query.validated_data.get("device")
        detail = title_detail_get(
            title_id=title_id,
            profile=profile,
            region_code=account.home_region_id,
            language=asked.pk if asked else None,
            at=timezone.now(),
            artwork_body=lambda v: _variant_body(request, v, device),
        )
        if detail is None:
            # One sentence for a title that does not exist, is not carried here now, or is
            # above the profile's limit: a kids profile learns nothing of what it may not see.
            raise Http404("No title with this id is available to this profile.")
        return Response(TitleDetailSerializer(detail).data)


def _variant_body(request: Request, variant: ArtworkVariant, device: str | None) -> dict:
    """A variant as title detail lists it: ``url`` the image as uploaded unless the request
    named a device class (clients written before copies existed read ``url`` alone)."""
    served = variant_image_urls(variant=variant)
    urls = {d: request.build_absolute_uri(url) for d, url in served.items()}
    return {
        "id": variant.pk,
        "label": variant.label,
        "url": urls[device] if device else request.build_absolute_uri(variant.image.url),
        "urls": urls,
        "themes": [t.slug for t in variant.themes.all()],
        "device_classes": variant.device_classes,
    }
