"""Routes of the camera pages (``cameras:``)."""

from django.urls import path

from cameras import views

app_name = "cameras"
urlpatterns = [
    path("", views.camera_list, name="list"),
    path("new/", views.camera_new, name="new"),
    path("projection/", views.projection, name="projection"),
    path("<int:pk>/", views.camera_edit, name="edit"),
    path("<int:pk>/delete/", views.camera_delete, name="delete"),
    path("<int:pk>/regions/", views.region_editor, name="regions"),
    path("<int:pk>/analyses/new/", views.analysis_new, name="analysis_new"),
    path("analyses/<int:pk>/", views.analysis_edit, name="analysis_edit"),
    path("analyses/<int:pk>/delete/", views.analysis_delete, name="analysis_delete"),
    path("analyses/<int:pk>/resume/", views.analysis_resume, name="analysis_resume"),
]
