from django.urls import path

from .apis import TitleDetailApi

urlpatterns = [
    path("titles/<int:title_id>/", TitleDetailApi.as_view(), name="title-detail"),
]
