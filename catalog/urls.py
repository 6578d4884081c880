from django.urls import path

from .apis import TitleDetailApi

urlpatterns = [
    path("titles/<id:title_id>/", TitleDetailApi.as_view(), name="title-detail"),
]
