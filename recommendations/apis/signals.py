"""Client apps report what a profile did, and read back its history and what to resume."""

import dataclasses
import datetime as dt
from collections.abc import Iterator

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import account_for_request
from artwork.models import DeviceClass
from artwork.selection import artwork_default
from catalog.apis import ResumePointSerializer
from catalog.models import Title
from config.api.exceptions import PayloadTooLarge
from config.api.pagination import LimitOffsetPagination
from config.api.parsers import OrjsonParser
from config.api.query_datetimes import QueryIsoDateTimeFilter
from config.api.schema import TITLE_ID_HELP
from config.api.strict import (
    UNKNOWN_FIELD,
    NoQueryOnWrites,
    filter_choice_errors,
    filterset_repeatable,
    query_parameters_check,
)
from config.api.throttling import HOUSEHOLD_READS
from config.ids import IdField, IdFilter
from config.metrics.instruments import signals_accepted, signals_rejected
from profiles.models import Profile
from profiles.selectors import NO_PROFILE, profile_for_request
from profiles.unlock import UNLOCK_HEADER, profile_unlock_check
from recommendations.apis.device import DeviceQuerySerializer
from recommendations.apis.homepage import ArtworkSerializer, absolute_url
from recommendations.models import Signal, SignalKind
from recommendations.selectors.signals import (
    CONTINUE_WATCHING_MAX,
    continue_watching,
    signal_clock_skew,
    signal_history,
)
from recommendations.services.signals import (
    BatchResult,
    SignalBatchRejected,
    signal_columns_record,
    signal_columns_references_check,
)
from recommendations.serving.title_tables import placeholder_url
from recommendations.signal_events import (
    POSITION_MAX,
    ROW_MAX_LENGTH,
    VALUE_RULES,
    EventColumns,
    event_columns_parse,
)

BODY_MAX_BYTES = 1024 * 1024

_VALUE_HELP = "; ".join(
    f"{kind}: {meaning} ({lo:,}-{hi:,})" for kind, (meaning, lo, hi) in VALUE_RULES.items()
)


#: What a client reads on an event's fields, in the batch it sends and the history it reads.
EVENT_HELP = {
    "kind": "What the profile did. A rating is the latest, by occurred_at, of thumbs_up, "
    "thumbs_down and thumbs_cleared (at one instant, thumbs_down wins, then thumbs_cleared): "
    "thumbs_cleared removes the title's rating.",
    "title": "Title id; null only for row_scroll_past (an event sent may leave it out instead).",
    "episode": "Episode id (from the title's seasons) when the event is about one episode of a "
    "series, required for a series' complete; null otherwise (an event sent may leave it out "
    "instead).",
    "value": f"Only for some kinds, required for them: {_VALUE_HELP}.",
    "device": "The device class it happened on.",
    "client_event_id": "Unique per profile: resending an event stores nothing twice.",
    "page_id": "The homepage the title was shown on.",
    "row": "Row id on that page.",
    "position": f"The title's place in that row, 0 first (at most {POSITION_MAX:,}).",
    "artwork_variant": "The artwork variant that was shown. One that does not exist (deleted "
    "since) or that the profile may not see is dropped: the event is stored with null.",
}


@extend_schema_serializer(
    description="One event of the batch: what the profile did, to which title, on which "
    "device and when."
)
class SignalEventSerializer(serializers.Serializer):
    """The documented shape of one event; parsing uses ``signal_events.event_columns_parse``."""

    refuses_unknown_fields = True  # as that parser does: documented closed (config.api.schema)

    kind = serializers.ChoiceField(choices=SignalKind.choices, help_text=EVENT_HELP["kind"])
    title = IdField(
        required=False,
        allow_null=True,
        help_text="Title id, required but for one kind: a row_scroll_past takes no title, "
        "episode, position or artwork_variant (it is about a whole row; naming any is a 400).",
    )
    episode = IdField(required=False, allow_null=True, help_text=EVENT_HELP["episode"])
    value = serializers.FloatField(required=False, allow_null=True, help_text=EVENT_HELP["value"])
    device = serializers.ChoiceField(choices=DeviceClass.choices, help_text=EVENT_HELP["device"])
    occurred_at = serializers.DateTimeField(
        help_text="With a time zone; not in the future, not older than the signal horizon, "
        "not before 1990-01-01."
    )
    client_event_id = serializers.UUIDField(help_text=EVENT_HELP["client_event_id"])
    page_id = serializers.UUIDField(
        required=False, allow_null=True, help_text=EVENT_HELP["page_id"]
    )
    # The parser reads a null or "" row and a null position as none, as an event left out
    # of a row: the history gives "" back, and a client echoing it must not be refused.
    row = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=ROW_MAX_LENGTH,
        help_text=f'{EVENT_HELP["row"]} Required for row_scroll_past; null or "" for none.',
    )
    position = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=POSITION_MAX,
        help_text=EVENT_HELP["position"],
    )
    artwork_variant = IdField(
        required=False, allow_null=True, help_text=EVENT_HELP["artwork_variant"]
    )


class SignalBatchSerializer(serializers.Serializer):
    """Documentation only, as its events are: the view refuses other keys and an empty list."""

    refuses_unknown_fields = True
    # A ListField rather than many=True: drf-spectacular documents its min_length as minItems.
    events = serializers.ListField(
        child=SignalEventSerializer(),
        min_length=1,
        help_text="The events, in any order; a batch holds at most "
        f"{settings.TONIGHT['SIGNAL_BATCH_MAX']:,} (more is a 400).",
    )


class SignalBatchResultSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Events in the batch.")
    new = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(
        help_text=(
            "Events not stored because they were already: by client_event_id (a resend), "
            "and, under a new client_event_id, an impression of a tile (page_id, row, "
            "title) or a row_scroll_past of a row (page_id, row) the profile has already "
            "reported, or reports twice in the batch (its earliest is kept)."
        )
    )
    rejected = serializers.DictField(
        child=serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        help_text=(
            "Events not stored because the title or episode they name does not exist "
            "(deleted since they happened) or is not the profile's to signal (a title not "
            "licensed in its region at the event's time, or above its maturity limit, "
            "answered alike), by index then field, as in a 400's "
            "errors.events: drop them, resending cannot store them. Empty when there are "
            "none. (An artwork variant that does not exist is not a reason: the event is "
            "stored without it.)"
        ),
    )


class SignalOutputSerializer(serializers.ModelSerializer):
    title = serializers.IntegerField(
        source="title_id", allow_null=True, help_text=EVENT_HELP["title"]
    )
    episode = serializers.IntegerField(
        source="episode_id", allow_null=True, help_text=EVENT_HELP["episode"]
    )
    artwork_variant = serializers.IntegerField(
        source="artwork_variant_id", allow_null=True, help_text=EVENT_HELP["artwork_variant"]
    )
    available = serializers.BooleanField(
        allow_null=True,
        read_only=True,
        help_text="Whether the title can be opened and played now: licensed in the account's "
        "region now and within the profile's maturity limit, as title detail answers it (200, "
        "not 404). The history keeps a title whose licence has ended (false), as the "
        "profile's own record; null for a signal without a title (a row scrolled past).",
    )

    class Meta:
        model = Signal
        fields = [
            "id",
            "kind",
            "title",
            "episode",
            "value",
            "device",
            "occurred_at",
            "client_event_id",
            "page_id",
            "row",
            "position",
            "artwork_variant",
            "is_rewatch",
            "available",
        ]
        extra_kwargs = {
            "id": {"help_text": "Signal id."},
            "occurred_at": {"help_text": "The instant the client stamped it, written in UTC."},
            **{
                name: {"help_text": EVENT_HELP[name]}
                for name in ("kind", "value", "device", "client_event_id", "page_id", "row")
            },
            "position": {"help_text": EVENT_HELP["position"]},
        }


class SignalFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(
        choices=SignalKind.choices,
        help_text="Only these kinds; repeat it for several.",
        error_messages=filter_choice_errors(SignalKind.values),
    )
    title = IdFilter(field_name="title_id", help_text="Only signals about this title id.")
    device = django_filters.ChoiceFilter(
        choices=DeviceClass.choices,
        help_text="Only signals from this device class.",
        error_messages=filter_choice_errors(DeviceClass.values),
    )
    occurred_after = QueryIsoDateTimeFilter(
        field_name="occurred_at",
        lookup_expr="gte",
        help_text="Only signals that occurred at or after this RFC 3339 date-time, with its "
        "UTC offset (as the homepage's `at` is written).",
    )
    occurred_before = QueryIsoDateTimeFilter(
        field_name="occurred_at",
        lookup_expr="lt",
        help_text="Only signals that occurred before this RFC 3339 date-time, with its UTC "
        "offset (as the homepage's `at` is written).",
    )

    class Meta:
        model = Signal
        fields = ["kind", "title", "device", "occurred_after", "occurred_before"]


#: The body /api/docs/ fills in for "Try it out": a play from a homepage tile, then where it
#: was left. Without it the page filled in every field's type (``"occurred_at": "string"``,
#: ``"title": 0``), a 400 naming six fields. Put one of your titles' ids and a recent time.
SIGNAL_BATCH_EXAMPLE = OpenApiExample(
    "A play from a homepage tile, and its progress",
    request_only=True,
    value={
        "events": [
            {
                "kind": "play_start",
                "title": 53,
                "device": "tv",
                "occurred_at": "2026-12-07T21:04:00+05:30",
                "client_event_id": "0f6b1c3e-7f3a-4d52-9b1e-2a6c8d4e0001",
                "row": "trending:IN",
                "position": 1,
            },
            {
                "kind": "progress",
                "title": 53,
                "value": 42.5,
                "device": "tv",
                "occurred_at": "2026-12-07T21:52:10+05:30",
                "client_event_id": "0f6b1c3e-7f3a-4d52-9b1e-2a6c8d4e0002",
            },
        ]
    },
)


class SignalsApi(NoQueryOnWrites, GenericAPIView):
    schema_errors = {  # config.api.schema
        "POST": {
            413: f"A body over {BODY_MAX_BYTES:,} bytes (`payload_too_large`): send smaller "
            "batches."
        }
    }
    # Recording is the hottest write of the API; its body is only ever JSON.
    parser_classes = [OrjsonParser]
    filter_backends = [DjangoFilterBackend]
    filterset_class = SignalFilter
    pagination_class = LimitOffsetPagination
    serializer_class = SignalOutputSerializer
    throttle_scopes = {"POST": "signals", **HOUSEHOLD_READS}

    def get_queryset(self) -> QuerySet[Signal]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no account
            return Signal.objects.none()
        profile, _ = profile_for_request(
            self.request,
            account=account_for_request(self.request),
            profile_id=self.kwargs["profile_id"],
        )
        profile_unlock_check(request=self.request, profile=profile)
        return signal_history(profile=profile)

    @extend_schema(
        operation_id="signals_record",
        summary="Record a batch of a profile's signals",
        description=(
            f"Up to {settings.TONIGHT['SIGNAL_BATCH_MAX']:,} events. The batch is validated "
            "whole: if any event is invalid nothing is stored and "
            "`errors.events.<index>.<field>` lists each problem; events naming a title or "
            "episode that does not exist (deleted since), or that the profile may not "
            "signal (not licensed in its region at the event's time, above its maturity "
            "limit: answered as one that does not exist), are the exception: the others are "
            "stored, and `rejected` names them the same way. An artwork variant that does "
            "not exist is dropped from its event, which is stored. "
            "Resending events (same "
            "`client_event_id`) stores nothing twice; the response counts new and duplicate "
            "events."
        ),
        request=SignalBatchSerializer,
        responses={200: SignalBatchResultSerializer},
        examples=[SIGNAL_BATCH_EXAMPLE],
    )
    def post(self, request: Request, profile_id: int) -> Response:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isascii() or not declared.isdigit():
            raise exceptions.ParseError("Content-Length must be a number of bytes.")
        if int(declared) > BODY_MAX_BYTES:
            raise PayloadTooLarge(
                f"The body is {int(declared):,} bytes; the limit is {BODY_MAX_BYTES:,} bytes. "
                "Send smaller batches."
            )
        profile, _ = profile_for_request(
            request, account=account_for_request(request), profile_id=profile_id
        )
        profile_unlock_check(request=request, profile=profile)
        body = request.data if isinstance(request.data, dict) else {}
        if unknown := body.keys() - {"events"}:
            raise exceptions.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        raw_events = body.get("events")
        if not isinstance(raw_events, list) or not raw_events:
            raise exceptions.ValidationError(
                {"events": ["A non-empty list of events is required."]}
            )
        limit = settings.TONIGHT["SIGNAL_BATCH_MAX"]
        if len(raw_events) > limit:
            signals_rejected(kinds=_kinds(raw_events))
            raise exceptions.ValidationError(
                {"events": [f"{len(raw_events):,} events in one batch; the limit is {limit:,}."]}
            )
        columns, errors = event_columns_parse(
            raw_events,
            now=timezone.now(),
            max_future=signal_clock_skew(),
            max_age=dt.timedelta(days=settings.TONIGHT["SIGNAL_MAX_AGE_DAYS"]),
        )
        if not errors:
            try:
                result = signal_columns_record(profile=profile, columns=columns)
            except SignalBatchRejected as rejected:
                errors = rejected.errors
            except Profile.DoesNotExist:  # deleted since the request read it
                raise Http404(NO_PROFILE) from None
        else:
            # The well-formed events' references too: the one 400 names every problem.
            errors.extend(signal_columns_references_check(profile=profile, columns=columns))
        if errors:
            signals_rejected(kinds=_kinds(raw_events))
            raise exceptions.ValidationError(errors.as_detail())
        _signals_count(columns, result)
        # The documented SignalBatchResultSerializer shape, without a serializer per request.
        return Response(
            {
                "received": result.received,
                "new": result.new,
                "duplicates": result.duplicates,
                "rejected": result.rejected.as_detail()["events"],
            }
        )

    @extend_schema(
        operation_id="signals_list",
        summary="A profile's signal history, newest first",
        description=(
            "Signals of a title or artwork variant above the profile's maturity limit (one "
            "lowered since they were recorded) are left out of the rows and the count. A "
            "title no longer licensed in the account's region stays listed, the profile's own "
            "record, with `available` false: its title detail is a 404 and it cannot be "
            "played."
        ),
        responses=SignalOutputSerializer(many=True),
    )
    def get(self, request: Request, profile_id: int) -> Response:
        history = self.get_queryset()  # first: another household's profile is a 404
        query_parameters_check(
            request,
            [*SignalFilter.base_filters, *self.paginator.query_parameters],
            repeatable=filterset_repeatable(SignalFilter),
        )
        signals = self.filter_queryset(history)
        page = self.paginate_queryset(signals)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _kinds(raw_events: list) -> Iterator[object]:
    """Each posted event's kind as sent (anything, for a malformed event), for the count of
    a batch refused whole."""
    return (event.get("kind") if isinstance(event, dict) else None for event in raw_events)


def _signals_count(columns: EventColumns, result: BatchResult) -> None:
    """Count a stored batch's events: accepted by kind, and those left out as rejected."""
    left_out = result.rejected.by_index
    if not left_out:
        signals_accepted(kinds=columns.kind, duplicates=result.duplicates)
        return
    accepted, rejected = [], []
    for index, kind in zip(columns.index, columns.kind, strict=True):
        (rejected if index in left_out else accepted).append(kind)
    signals_accepted(kinds=accepted, duplicates=result.duplicates)
    signals_rejected(kinds=rejected)


class ContinueWatchingQuerySerializer(DeviceQuerySerializer):
    """``device``, required as on the homepage: it chooses each title's frame."""


class ContinueWatchingItemSerializer(serializers.Serializer):
    title_id = serializers.IntegerField(help_text=TITLE_ID_HELP)
    name = serializers.CharField(help_text="In the profile's display language when translated.")
    kind = serializers.ChoiceField(choices=Title.Kind.choices, help_text="film or series.")
    progress = serializers.FloatField(help_text="Percent of the film or of the episode to resume.")
    last_played_at = serializers.DateTimeField(help_text="When the profile last played it.")
    episode_id = serializers.IntegerField(
        allow_null=True,
        help_text="The series' episode to resume; null for a film, or when none is known.",
    )
    season_number = serializers.IntegerField(
        allow_null=True, help_text="That episode's season; null for a film."
    )
    episode_number = serializers.IntegerField(
        allow_null=True, help_text="That episode's number in its season; null for a film."
    )
    resume = ResumePointSerializer(
        source="*",
        help_text="Where its Play button starts, as the homepage's Continue Watching tile and "
        "title detail's `viewing.resume` say it (the same rule and shape): the fields above "
        "with `new_episodes`, true when Play starts an episode out since the profile "
        'finished the series ("New Episodes").',
    )
    artwork = ArtworkSerializer(
        help_text="The title's default image for the device: the first of its frames made for "
        "it (else for any device) within the profile's maturity limit, in the order staff "
        "added them, with propensity 1; the placeholder (variant_id null) when it has none. "
        "Not the homepage's choice: this list is not logged, so the artwork policy neither "
        "draws nor learns here. Send variant_id as `artwork_variant` on signals about it, "
        "with no `page_id`.",
    )


class ContinueWatchingApi(APIView):
    throttle_scopes = HOUSEHOLD_READS  # config.api.throttling

    @extend_schema(
        operation_id="continue_watching",
        summary="What the profile can resume, most recent first",
        description=(
            "Titles available in the account's region now and within the profile's maturity "
            "limit, each with where Play starts and an image for the device. Nothing is "
            f"logged. A PIN-protected profile needs the `{UNLOCK_HEADER}` header.\n\n"
            "Not paginated, on purpose: a client reads its titles from `results`, as from "
            "every list's page, but it is one short list, a Continue Watching row's worth "
            f"(at most {CONTINUE_WATCHING_MAX}, the most recently played), with no `count`, "
            "`next` or `previous`, and `limit` and `offset` are refused (400). Titles "
            "started before those are left out, not paged to: the screen shows the most "
            "recent."
        ),
        parameters=[ContinueWatchingQuerySerializer],
        responses=inline_serializer(
            "ContinueWatching",
            {
                "results": ContinueWatchingItemSerializer(
                    many=True,
                    help_text=(
                        f"Titles to resume, most recent first: at most {CONTINUE_WATCHING_MAX}, "
                        "the most recent (no pages follow). A homepage's Continue Watching row "
                        "holds up to its `items`, in the ranker's order."
                    ),
                )
            },
        ),
    )
    def get(self, request: Request, profile_id: int) -> Response:
        profile, _ = profile_for_request(
            request, account=account_for_request(request), profile_id=profile_id
        )
        profile_unlock_check(request=request, profile=profile)
        query = ContinueWatchingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        items = continue_watching(profile=profile)
        # The default frame, not a draw of the policy: see artwork_default and the
        # `artwork` field's help. The titles are the region's and within the limit already
        # (the selector's); the frames are held to the limit by their own maturity here.
        picks = artwork_default(
            title_ids=[item.title_id for item in items],
            device=query.validated_data["device"],
            maturity_limit=profile.maturity_limit,
        )
        base_url = request.build_absolute_uri("/")
        placeholder = placeholder_url()
        body = [
            dataclasses.asdict(item)
            | {
                "artwork": {
                    "variant_id": variant if variant >= 0 else None,
                    "url": absolute_url(path or placeholder, base_url),
                    "propensity": propensity,
                }
            }
            for item, variant, path, propensity in zip(
                items, picks.variant.tolist(), picks.url, picks.propensity.tolist(), strict=True
            )
        ]
        return Response({"results": ContinueWatchingItemSerializer(body, many=True).data})
