from django.urls import path

from .apis import ProfileDetailApi, ProfileListCreateApi, ProfileUnlockApi

urlpatterns = [
    path("profiles/", ProfileListCreateApi.as_view(), name="profile-list"),
    path("profiles/<int:profile_id>/", ProfileDetailApi.as_view(), name="profile-detail"),
    path("profiles/<int:profile_id>/unlock/", ProfileUnlockApi.as_view(), name="profile-unlock"),
]
