from django.urls import path

from .apis.homepage import HomepageApi
from .apis.recommendations import RecommendationsApi
from .apis.retrains import RetrainDetailApi, RetrainListApi
from .apis.signals import ContinueWatchingApi, SignalsApi

urlpatterns = [
    path("profiles/<id:profile_id>/homepage/", HomepageApi.as_view(), name="homepage"),
    path("profiles/<id:profile_id>/signals/", SignalsApi.as_view(), name="signals"),
    path(
        "profiles/<id:profile_id>/continue-watching/",
        ContinueWatchingApi.as_view(),
        name="continue-watching",
    ),
    path(
        "profiles/<id:profile_id>/recommendations/",
        RecommendationsApi.as_view(),
        name="recommendations",
    ),
    path("ops/retrains/", RetrainListApi.as_view(), name="retrains"),
    path("ops/retrains/<id:run_id>/", RetrainDetailApi.as_view(), name="retrain"),
]
