from django.urls import path

from .apis.recommendations import RecommendationsApi
from .apis.signals import ContinueWatchingApi, SignalsApi

urlpatterns = [
    path("profiles/<int:profile_id>/signals/", SignalsApi.as_view(), name="signals"),
    path(
        "profiles/<int:profile_id>/continue-watching/",
        ContinueWatchingApi.as_view(),
        name="continue-watching",
    ),
    path(
        "profiles/<int:profile_id>/recommendations/",
        RecommendationsApi.as_view(),
        name="recommendations",
    ),
]
