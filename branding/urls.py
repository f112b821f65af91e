from django.urls import path

from branding import views

app_name = "branding"
urlpatterns = [
    path("<slug:slug>/branding/", views.branding_page, name="page"),
    path("<slug:slug>/branding/status/", views.branding_status, name="status"),
    path("<slug:slug>/branding/fan-outs/<int:fan_out_id>/retry/", views.retry_failed, name="retry_failed"),
]
