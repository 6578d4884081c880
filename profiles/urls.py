from django.urls import path

from .apis import ProfileDetailApi, ProfileListCreateApi, ProfileUnlockApi

urlpatterns = [
    path("profiles/", ProfileListCreateApi.as_view(), name="profile-list"),
    path("profiles/<id:profile_id>/", ProfileDetailApi.as_view(), name="profile-detail"),
    path("profiles/<id:profile_id>/unlock/", ProfileUnlockApi.as_view(), name="profile-unlock"),
]
