"""Routes of the alert pages (``alerts:``); the live wall is ``/live/`` (``live``), routed
by the project."""

from django.urls import path

from alerts import rule_views, views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/frame/", views.alert_frame, name="frame"),
    path("<int:pk>/unmasked-evidence/", views.alert_unmasked_evidence, name="unmasked_evidence"),
    path("<int:pk>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("<int:pk>/resolve/", views.alert_resolve, name="resolve"),
    path("<int:pk>/note/", views.alert_note, name="note"),
    path("rules/", rule_views.rule_list, name="rules"),
    path("rules/new/", rule_views.rule_new, name="rule_new"),
    path("rules/<int:pk>/", rule_views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", rule_views.rule_delete, name="rule_delete"),
]
