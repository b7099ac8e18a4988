"""/amm/dashboard/ (included from ammproject/urls.py under "amm/")."""
from django.urls import path

from amm.dashboard import views

app_name = "amm_dashboard"

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/data", views.dashboard_data_view, name="data"),
]
