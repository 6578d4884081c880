"""GET a profile's homepage: rows chosen and ordered for it, now, on this device; page logged."""

import datetime as dt

from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import account_for_request
from artwork.models import DeviceClass
from catalog.apis import ResumePointSerializer
from config.api.query_datetimes import QueryDateTimeField
from config.api.schema import TITLE_ID_HELP
from config.api.strict import QueryIntegerField
from config.metrics.instruments import homepage_served
from profiles.models import Profile
from profiles.selectors import profile_for_request
from profiles.unlock import UNLOCK_HEADER, profile_unlock_check
from recommendations.apis.device import DeviceQuerySerializer
from recommendations.apis.recommendations import model_unavailable
from recommendations.engine.row_ranking import ROW_TYPES
from recommendations.models import ModelVersion
from recommendations.selectors.title_viewing import ResumePoint
from recommendations.services.homepage import homepage_render
from recommendations.serving.cache import NoActiveModel
from recommendations.serving.homepage import (
    MAX_BECAUSE_WATCHED_ROWS,
    MAX_GENRE_ROWS,
    ROW_MIN_ITEMS,
    Page,
)
from recommendations.serving.scoring import MATCH_SHOWN_MIN

MAX_ROWS = 40
MAX_ITEMS = 75
#: How far from the server's now a client's ``at`` may be, either way.
AT_MAX_DISTANCE = dt.timedelta(days=7)


class ContextTimeField(QueryDateTimeField):
    """An RFC 3339 time with its UTC offset, within :data:`AT_MAX_DISTANCE` of now.

    ``at`` only sets the page's local hour and weekday, so the offset is what
    makes it mean anything: a naive time would silently be read as UTC, five
    and a half hours off in India, and is refused as the signals API refuses
    one (:func:`config.api.query_datetimes.query_datetime_parse`, the one reader
    of a query's times). A week either side of now is every hour of every weekday
    in every time zone (UTC-12 to UTC+14 included), i.e. every context a client
    can ask for; a day would refuse "next Saturday evening" from a client in
    another zone, and anything wider buys nothing but dates whose arithmetic
    overflows.
    """

    default_error_messages = {
        "distant": f"Must be within {AT_MAX_DISTANCE.days} days of now.",
    }

    def to_internal_value(self, value: object) -> dt.datetime:
        moment = super().to_internal_value(value)
        if abs(moment - timezone.now()) > AT_MAX_DISTANCE:
            self.fail("distant")
        return moment


class HomepageQuerySerializer(DeviceQuerySerializer):
    # `device` is required (DeviceQuerySerializer): a page is logged with its device.
    at = ContextTimeField(
        required=False,
        help_text="An RFC 3339 date-time with its UTC offset (YYYY-MM-DDThh:mm[:ss[.fraction]] "
        f"then Z or ±HH:MM; `+` sent as %2B), within {AT_MAX_DISTANCE.days} days of now "
        "(default now). Sets only the page's hour and weekday, taken in the region's time "
        "zone: the titles are always those available now.",
    )
    rows = QueryIntegerField(
        min_value=1,
        max_value=MAX_ROWS,
        default=12,
        help_text="How many rows at most. A row with too few titles is left out, never "
        "padded, so a page may have fewer.",
    )
    items = QueryIntegerField(
        min_value=1,
        max_value=MAX_ITEMS,
        default=20,
        help_text=f"Titles per row at most. A row shows at least {ROW_MIN_ITEMS} "
        "(Continue Watching and Watch Again: 1), or `items` when fewer are asked for.",
    )


_QUERY_FIELDS = HomepageQuerySerializer._declared_fields
_DEVICES = frozenset(DeviceClass.values)


def homepage_params(query: QueryDict) -> dict:
    """The homepage's validated query parameters; 400 naming the parameter on bad input.

    A client app's usual request names only the device: that case is
    answered from the serializer's own defaults without instantiating it
    (which deep-copies its fields, a quarter of a millisecond of every page);
    anything else goes through :class:`HomepageQuerySerializer`.
    """
    if query.keys() == {"device"}:
        devices = query.getlist("device")
        # Two devices (?device=tv&device=web) are the serializer's to refuse.
        if len(devices) == 1 and devices[0] in _DEVICES:
            return {
                "device": devices[0],
                "rows": _QUERY_FIELDS["rows"].default,
                "items": _QUERY_FIELDS["items"].default,
            }
    serializer = HomepageQuerySerializer(data=query)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ArtworkSerializer(serializers.Serializer):
    variant_id = serializers.IntegerField(
        allow_null=True, help_text="Null when the title has no artwork yet (placeholder)."
    )
    url = serializers.CharField(
        help_text="Absolute URL of the image sized for the request's `device` (tv 1,280, "
        "tablet 800, web 640, mobile 400 pixels wide at most; never enlarged), or of the "
        "image as uploaded while its sized copies are not made yet."
    )
    propensity = serializers.FloatField(
        help_text="Probability that this variant was the one chosen (1 for the default variant)."
    )


class HomepageItemSerializer(serializers.Serializer):
    title_id = serializers.IntegerField(help_text=TITLE_ID_HELP)
    name = serializers.CharField(help_text="In the profile's display language when translated.")
    match = serializers.IntegerField(
        min_value=MATCH_SHOWN_MIN,
        max_value=99,
        allow_null=True,
        help_text='The "% match". Null where it would mislead: titles in Continue Watching '
        "(the row shows progress instead), every title of a profile that has not played or "
        "liked anything yet (ranked by popularity, not by its taste), and a title below "
        f"{MATCH_SHOWN_MIN}% (its row's reason, not the figure, is why it is there).",
    )
    progress = serializers.FloatField(
        allow_null=True,
        help_text="Percent watched of the film, or of the episode a series resumes on (0 when "
        "that is the one after a finished episode), as /continue-watching/ shows it; null "
        "unless the title is resumable.",
    )
    artwork = ArtworkSerializer(
        help_text="The image to show; send its variant_id back as `artwork_variant` on signals."
    )
    resume = ResumePointSerializer(
        allow_null=True,
        help_text="On a Continue Watching tile, where its Play button starts: what title "
        "detail's `viewing.resume` says for the profile, by the same rule (the episode "
        "stopped midway or being rewatched, else the next one out not finished; a series "
        "back for a new season at that season's first; a season announced is never entered). "
        "A series names the episode (`episode_id`, to send as `episode` on signals, and "
        '"S2:E3" from `season_number` and `episode_number`), a film leaves them null; '
        "`progress` is the tile's. Null on every other row's tiles.",
    )


class HomepageRowSerializer(serializers.Serializer):
    id = serializers.CharField(
        help_text="Stable within the page, e.g. 'because_you_watched:42'; send it back as "
        "`row` on signals."
    )
    type = serializers.ChoiceField(
        choices=ROW_TYPES,
        help_text="The kind of row; a page may hold several of one kind (up to "
        f"{MAX_BECAUSE_WATCHED_ROWS} 'because_you_watched', {MAX_GENRE_ROWS} 'genre'), each "
        "with its own `id`.",
    )
    title = serializers.CharField(help_text="Display title, e.g. 'Because you watched …'.")
    reason = serializers.CharField(help_text="Why this row is here, one sentence.")
    items = HomepageItemSerializer(many=True, help_text="The row's titles, in order.")


class HomepageContextSerializer(serializers.Serializer):
    device = serializers.ChoiceField(
        choices=DeviceClass.choices, help_text="The device class the page was made for."
    )
    region = serializers.CharField(help_text="The account's region code, e.g. IN.")
    cluster = serializers.CharField(allow_null=True, help_text="The profile's taste cluster.")
    hour = serializers.IntegerField(min_value=0, max_value=23, help_text="Local hour.")
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="Local, Monday 0.")


class HomepageOutputSerializer(serializers.Serializer):
    page_id = serializers.UUIDField(
        help_text="Send it back as `page_id` on signals about this page's titles."
    )
    generated_at = serializers.DateTimeField(help_text="When the page was computed, in UTC.")
    context = HomepageContextSerializer(help_text="What the page was made for.")
    model_version = serializers.IntegerField(help_text="The model version that served the page.")
    ranker = serializers.ChoiceField(
        choices=ModelVersion.ServingMode.choices,
        help_text="Title ranker: 'prior' until learned from logged pages, then 'learned'.",
    )
    row_ranker = serializers.ChoiceField(
        choices=ModelVersion.ServingMode.choices,
        help_text="Row ranker: 'prior' until learned from logged pages, then 'learned'.",
    )
    rows = HomepageRowSerializer(many=True, help_text="The rows, top to bottom.")


def absolute_url(path: str, base_url: str) -> str:
    """An artwork URL as title detail's ``build_absolute_uri`` makes it.

    Storage URLs are absolute, site-relative (``/media/...``) or, for a CDN named
    without a scheme (``//cdn.example.com/media/...``), network-path references,
    which take this request's scheme rather than this host's root (that made
    ``http://host/cdn.example.com/...``).
    """
    if "://" in path:
        return path
    if path.startswith("//"):
        return base_url.partition("//")[0] + path
    return base_url + path.lstrip("/")


def page_body(page: Page, *, base_url: str) -> dict:
    """The response body, shaped as :class:`HomepageOutputSerializer` documents.

    Built as plain dicts from the page's item columns: running 240 items
    through nested serializers would cost more than computing the page (a
    test checks the shape against the serializer). ``base_url`` is the site's
    root as an absolute URL (``request.build_absolute_uri("/")``).
    """
    columns = page.item_columns()
    urls = [absolute_url(path, base_url) for path in columns.artwork_path]
    items = [
        {
            "title_id": title_id,
            "name": name,
            "match": match,
            "progress": progress,
            "artwork": {"variant_id": variant_id, "url": url, "propensity": propensity},
            "resume": None if resume is None else _resume_body(resume),
        }
        for title_id, name, match, progress, variant_id, url, propensity, resume in zip(
            columns.title_id,
            columns.name,
            columns.match,
            columns.progress,
            columns.variant_id,
            urls,
            columns.propensity,
            columns.resume,
            strict=True,
        )
    ]
    rows = []
    start = 0
    for row in page.rows:
        stop = start + len(row.items)
        rows.append(
            {
                "id": row.id,
                "type": row.type,
                "title": row.title,
                "reason": row.reason,
                "items": items[start:stop],
            }
        )
        start = stop
    context = page.context
    return {
        "page_id": str(page.page_id),
        "generated_at": page.generated_at.isoformat().replace("+00:00", "Z"),
        "context": {
            "device": context.device,
            "region": context.region,
            "cluster": context.cluster,
            "hour": context.hour,
            "weekday": context.weekday,
        },
        "model_version": page.model_version,
        "ranker": page.ranker,
        "row_ranker": page.row_ranker,
        "rows": rows,
    }


def _resume_body(resume: ResumePoint) -> dict:
    """A tile's resume point, shaped as :class:`ResumePointSerializer` documents."""
    return {
        "episode_id": resume.episode_id,
        "season_number": resume.season_number,
        "episode_number": resume.episode_number,
        "progress": resume.progress,
        "new_episodes": resume.new_episodes,
    }


class HomepageApi(APIView):
    schema_errors = {  # config.api.schema
        "GET": {503: "`model_unavailable`: no recommendation model has been trained yet."}
    }
    # No HEAD: Django answers it with get(), which would compute and log a page nobody
    # saw, and the rankers and the artwork bandit learn from the page log.
    http_method_names = ["get", "options"]
    throttle_scopes = {"GET": "homepage"}

    @extend_schema(
        operation_id="homepage_retrieve",
        summary="The profile's personalised homepage: rows, titles, artwork",
        description=(
            "Computed fresh on every request and logged (one write) so that later plays are "
            "attributed to the page, row, position and artwork. A PIN-protected profile needs "
            f"the `{UNLOCK_HEADER}` header from the unlock endpoint. Titles are only those "
            "available in the account's region now and within the profile's maturity limit."
        ),
        parameters=[HomepageQuerySerializer],  # the unlock header: config.api.schema
        responses={200: HomepageOutputSerializer},
    )
    def get(self, request: Request, profile_id: int) -> Response:
        profile, languages = profile_for_request(
            request, account=account_for_request(request), profile_id=profile_id
        )
        profile_unlock_check(request=request, profile=profile)
        params = homepage_params(request.query_params)
        try:
            page = self.page_render(profile=profile, params=params, languages=languages)
        except NoActiveModel as missing:
            raise model_unavailable(missing) from missing
        homepage_served(device=params["device"])
        return Response(page_body(page, base_url=request.build_absolute_uri("/")))

    def page_render(self, *, profile: Profile, params: dict, languages: set[str]) -> Page:
        """The page, computed and logged: the step between access checks and the body.

        Its own method so that the benchmark's skeleton (``bench/floor_urls.py``)
        can replace the computation and nothing else.
        """
        return homepage_render(
            profile=profile,
            device=params["device"],
            # The client's `at` is the context's clock only: availability, history and
            # the logged generated_at stay the server's now.
            context_at=params.get("at"),
            n_rows=params["rows"],
            n_items=params["items"],
            language_codes=languages,
        )
