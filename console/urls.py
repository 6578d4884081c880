from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    path("preview/", views.preview, name="preview"),
    path("compare/", views.compare, name="compare"),
    path("why/", views.why, name="why"),
    path("why/row/", views.row_why, name="row_why"),
    path("models/", views.model_overview, name="models"),
    # A slug, as region codes are (two capitals): "str" let a NUL through to the query (a 500).
    path("models/<slug:region_code>/<slug:slug>/", views.model_cluster, name="model_cluster"),
    path("artwork/", views.artwork_overview, name="artwork"),
]
