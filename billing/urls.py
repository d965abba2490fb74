"""Routes of the finance pages (``billing.views``) and the budget pages for admins
(``billing.budget_views``)."""

from django.urls import path

from billing import budget_views, views

app_name = "billing"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:account_id>/", views.bill, name="bill"),
    path("<int:account_id>/finalize/", views.finalize, name="finalize"),
    path("<int:account_id>/adjustments/", views.adjust, name="adjust"),
    path("<int:account_id>/export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("<int:account_id>/export.xlsx", views.export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("<int:account_id>/export.pdf", views.export, {"fmt": "pdf"}, name="export_pdf"),
    path("budgets/", budget_views.budget_list, name="budgets"),
    path("budgets/new/", budget_views.budget_new, name="budget_new"),
    path("budgets/<int:pk>/", budget_views.budget_edit, name="budget_edit"),
    path("budgets/<int:pk>/delete/", budget_views.budget_delete, name="budget_delete"),
]
