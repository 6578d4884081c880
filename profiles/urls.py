from django.urls import path

from .apis import ProfileDetailApi, ProfileListCreateApi

urlpatterns = [
    path("profiles/", ProfileListCreateApi.as_view(), name="profile-list"),
    path("profiles/<int:profile_id>/", ProfileDetailApi.as_view(), name="profile-detail"),
]
