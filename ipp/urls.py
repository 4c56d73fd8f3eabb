"""Pages of the ipp app: troubleshooting, preflight, copy, support toggles."""
from django.urls import path

from ipp import views

app_name = "ipp"

urlpatterns = [
    path("ipp/troubleshoot/", views.troubleshoot, name="troubleshoot"),
]
