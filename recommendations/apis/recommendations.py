"""A profile's ranked recommendations as a plain top-N list, for apps and for evaluation."""

import logging

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import account_for_request
from catalog.selectors import title_names
from config.api.schema import TITLE_ID_HELP
from config.api.strict import QueryIntegerField
from config.api.throttling import HOUSEHOLD_READS
from profiles.selectors import profile_for_request
from profiles.unlock import profile_unlock_check
from recommendations.apis.device import DeviceQuerySerializer
from recommendations.engine.candidates import ALL_SOURCES
from recommendations.models import ModelVersion
from recommendations.serving.cache import NoActiveModel
from recommendations.serving.recommend import recommend_for_profile
from recommendations.serving.scoring import MATCH_SHOWN_MIN

logger = logging.getLogger(__name__)

MAX_RESULTS = 200
SOURCE_NAMES = tuple(source.name.lower() for source in ALL_SOURCES)


#: How long a client waits before asking again when no model serves it (``Retry-After``).
#: Training one takes minutes, and a trained one is served within
#: ``MODEL_VERSION_CHECK_SECONDS``: a minute spares the server a TV's tight loop and keeps
#: the wait after the first training short.
MODEL_RETRY_SECONDS = 60


class ModelUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "model_unavailable"
    wait = MODEL_RETRY_SECONDS  # DRF's handler answers it as Retry-After
    default_detail = "Recommendations are not available yet: try again after Retry-After seconds."


#: The regions whose missing model this process has told operators of.
_operators_told: set[str] = set()


def model_unavailable(missing: NoActiveModel) -> ModelUnavailable:
    """The 503 a client reads, and the operator's hint in the log, once per region.

    The hint (run ``manage.py train_models``) was the 503's message: an instruction for
    the operator, read by end users' apps. Logged once per process and region rather than
    per request: a TV retrying every minute would otherwise fill the log with it.
    """
    if missing.region_code not in _operators_told:
        _operators_told.add(missing.region_code)
        logger.warning("%s Clients are answered 503 model_unavailable until then.", missing)
    return ModelUnavailable()


class RecommendationsQuerySerializer(DeviceQuerySerializer):
    n = QueryIntegerField(
        min_value=1, max_value=MAX_RESULTS, default=20, help_text="How many titles to return."
    )


class RecommendationSerializer(serializers.Serializer):
    title_id = serializers.IntegerField(help_text=TITLE_ID_HELP)
    name = serializers.CharField(help_text="In the profile's display language when translated.")
    score = serializers.FloatField(help_text="Calibrated probability that the profile plays it.")
    match = serializers.IntegerField(
        min_value=MATCH_SHOWN_MIN,
        max_value=99,
        allow_null=True,
        help_text='The "% match": never lower for a higher score. Null, as on the homepage, '
        "for a title being resumed, for every title of a profile that has not played or "
        f"liked anything yet, and below {MATCH_SHOWN_MIN}%.",
    )
    sources = serializers.ListField(
        child=serializers.ChoiceField(choices=SOURCE_NAMES),
        help_text="The candidate generators that proposed the title.",
    )


class RecommendationsOutputSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(help_text="The model version that served the list.")
    ranker = serializers.ChoiceField(
        choices=ModelVersion.ServingMode.choices,
        help_text="'prior' until the ranker has learned from logged pages, then 'learned'.",
    )
    results = RecommendationSerializer(many=True, help_text="The titles, best first.")


class RecommendationsApi(APIView):
    schema_errors = {  # config.api.schema
        "GET": {503: "`model_unavailable`: no recommendation model has been trained yet."}
    }
    throttle_scopes = HOUSEHOLD_READS  # config.api.throttling

    @extend_schema(
        operation_id="recommendations_list",
        summary="The profile's top titles, best first, with score, % match and sources",
        parameters=[RecommendationsQuerySerializer],
        responses={200: RecommendationsOutputSerializer},
    )
    def get(self, request: Request, profile_id: int) -> Response:
        profile, _ = profile_for_request(
            request, account=account_for_request(request), profile_id=profile_id
        )
        profile_unlock_check(request=request, profile=profile)
        query = RecommendationsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            recommendations = recommend_for_profile(
                profile=profile,
                device=query.validated_data["device"],
                n=query.validated_data["n"],
            )
        except NoActiveModel as missing:
            raise model_unavailable(missing) from missing
        names = title_names(
            title_ids=[r.title_id for r in recommendations.results],
            language=profile.display_language_id,
        )
        results = [
            {
                "title_id": r.title_id,
                "name": names.get(r.title_id, ""),
                "score": r.score,
                "match": r.match,
                "sources": list(r.sources),
            }
            for r in recommendations.results
        ]
        return Response(
            RecommendationsOutputSerializer(
                {
                    "model_version": recommendations.model_version,
                    "ranker": recommendations.ranker,
                    "results": results,
                }
            ).data
        )
