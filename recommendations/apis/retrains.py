"""Staff API for retrains: request one (returns the run to poll) and poll it.

Staff need the training-run permissions admin asks for the same thing
(:class:`TrainingRunPermission`), and call with their admin sign-in: a
household's token is never staff, so these operations do not read one.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import SAFE_METHODS, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import StaffSessionAuthentication
from config.api.strict import KnownFieldsOnly, NoQueryOnWrites, query_parameters_check
from config.permissions import may_view
from recommendations.models import TrainingRun
from recommendations.services.retraining import (
    RetrainError,
    RetrainNotQueued,
    training_run_request,
)


class RetrainInputSerializer(KnownFieldsOnly):
    region = serializers.CharField(max_length=2, help_text="Region code, e.g. IN.")
    cluster = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Taste cluster slug, e.g. tamil; the region's default cluster when omitted.",
    )


class TrainingRunSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region_id", help_text="Region code, e.g. IN.")
    cluster = serializers.CharField(
        source="taste_cluster.slug", help_text="Taste cluster slug, e.g. tamil."
    )
    # JSON objects ({} until the run has figures), documented as such: a JSONField's schema
    # has no type.
    timings = serializers.DictField(read_only=True, help_text="Seconds per stage.")
    data_sizes = serializers.DictField(
        read_only=True,
        help_text="Counts of what the run trained on, e.g. `cluster_profiles`.",
    )
    metrics = serializers.DictField(
        read_only=True, help_text="Holdout figures, the cluster table, the gate."
    )
    model_version = serializers.IntegerField(
        source="model_version_id",
        allow_null=True,
        help_text="The version the run trained; null until it has one.",
    )

    class Meta:
        model = TrainingRun
        fields = (
            "id",
            "region",
            "cluster",
            "status",
            "trigger",
            "stage",
            "progress",
            "timings",
            "data_sizes",
            "metrics",
            "error",
            "model_version",
            "attempts",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "Run id: poll it at /api/v1/ops/retrains/{run_id}/."},
            "status": {
                "help_text": "queued, running, then succeeded (its version serves), rejected "
                "(the version failed the quality gate, or another run of the cluster was "
                "running) or failed."
            },
            "trigger": {"help_text": "What started the run."},
            "stage": {"help_text": "The step running now; empty before the first."},
            "error": {"help_text": "Why a failed run failed; empty otherwise."},
            "created_at": {"help_text": "When the run was asked for."},
            "started_at": {"help_text": "When a worker started it; null while queued."},
            "heartbeat_at": {
                "help_text": "The running worker's last sign of life; a stale one fails the run."
            },
            "finished_at": {"help_text": "When it succeeded, was rejected or failed."},
        }


#: How long staff wait before asking for the retrain again after the broker refused it
#: (``Retry-After``): a broker that restarts is back within seconds to a minute.
BROKER_RETRY_SECONDS = 30


class RetrainNotQueuedError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "retrain_not_queued"
    wait = BROKER_RETRY_SECONDS  # DRF's handler answers it as Retry-After
    default_detail = "The broker refused the retrain; its run is marked failed."


TRAINING_RUNS = "recommendations.trainingrun"
CHANGE_RUNS = "recommendations.change_trainingrun"
MAY_NOT_RETRAIN = "Staff with permission to change training runs only (`change_trainingrun`)."
MAY_NOT_VIEW_RUNS = (
    "Staff with permission to view training runs only (`view_trainingrun` or `change_trainingrun`)."
)
#: What the schema adds to each 403: the code of each, and that without an admin sign-in
#: it is the same status.
NO_PERMISSION = " Staff without it: `permission_denied`."
NOT_SIGNED_IN = " Not signed in to admin (a household's token is not read): `not_authenticated`."
WITHOUT_CSRF_HEADER = " A write without the `X-CSRFToken` header: `permission_denied`."


class TrainingRunPermission(IsAdminUser):
    """Staff, with the model permission admin asks for the same thing.

    Requesting a retrain is admin's "Retrain now", which needs change permission
    on training runs: a run that passes its gate changes what is served. Reading
    one needs view permission, which change includes, as in admin (an operator
    who may retrain may poll the run). DRF's ``DjangoModelPermissions`` does not
    fit: it reads the model from a queryset these views have none of, maps POST
    to add (which admin grants no one: runs are made only by retraining) and
    asks nothing for GET.
    """

    message = MAY_NOT_VIEW_RUNS

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS:
            return may_view(request.user, TRAINING_RUNS)
        self.message = MAY_NOT_RETRAIN
        return request.user.has_perm(CHANGE_RUNS)


class RetrainListApi(NoQueryOnWrites, APIView):
    authentication_classes = (StaffSessionAuthentication,)
    permission_classes = (TrainingRunPermission,)
    # config.api.schema documents these (with the project's error shape).
    schema_errors = {
        "POST": {
            403: MAY_NOT_RETRAIN + NO_PERMISSION + WITHOUT_CSRF_HEADER + NOT_SIGNED_IN,
            503: "`retrain_not_queued`: the broker refused the retrain; its run is marked failed.",
        }
    }

    @extend_schema(
        operation_id="ops_retrains_create",
        summary="Queue a retrain of one taste cluster; returns the run to poll",
        request=RetrainInputSerializer,
        responses={
            201: OpenApiResponse(
                TrainingRunSerializer,
                description="The run made: queued, to poll (without a broker it has run "
                "already, and says how it ended).",
            ),
            409: OpenApiResponse(
                TrainingRunSerializer,
                description="The cluster is busy: another run of it is queued or running. "
                "The run made for this request is `rejected` and never starts; its `error` "
                "names the other run, to poll instead.",
            ),
        },
        tags=["ops"],
    )
    def post(self, request: Request) -> Response:
        data = RetrainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = training_run_request(
                region_code=data.validated_data["region"].upper(),
                cluster_slug=data.validated_data.get("cluster") or None,
                trigger=TrainingRun.Trigger.API,
                requested_by=request.user,
            )
        except RetrainError as error:
            raise exceptions.ValidationError({error.field: [str(error)]}) from error
        except RetrainNotQueued as error:
            raise RetrainNotQueuedError(str(error)) from error
        run = TrainingRun.objects.select_related("taste_cluster").get(pk=run.pk)
        # 409 only for the run refused because its cluster was busy: it never started. A run
        # that (without a broker, in this request) trained and was rejected by its gate is a
        # run made, like a failed one: 201 with its status.
        busy = run.status == TrainingRun.Status.REJECTED and run.started_at is None
        code = status.HTTP_409_CONFLICT if busy else status.HTTP_201_CREATED
        return Response(TrainingRunSerializer(run).data, status=code)


class RetrainDetailApi(APIView):
    authentication_classes = (StaffSessionAuthentication,)
    permission_classes = (TrainingRunPermission,)
    schema_errors = {"GET": {403: MAY_NOT_VIEW_RUNS + NO_PERMISSION + NOT_SIGNED_IN}}

    @extend_schema(
        operation_id="ops_retrains_retrieve",
        summary="A retrain run: status, stage, progress, timings, metrics",
        responses={200: TrainingRunSerializer},
        tags=["ops"],
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = TrainingRun.objects.select_related("taste_cluster").filter(pk=run_id).first()
        if run is None:
            raise Http404("No training run with this id.")
        query_parameters_check(request, ())
        return Response(TrainingRunSerializer(run).data)
