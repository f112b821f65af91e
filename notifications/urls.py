from django.urls import path

from notifications import views

app_name = "webhooks"
urlpatterns = [
    path("<slug:slug>/webhooks/", views.webhooks, name="list"),
    path("<slug:slug>/webhooks/<int:endpoint_id>/delete/", views.endpoint_delete, name="delete"),
    path("<slug:slug>/webhooks/<int:endpoint_id>/enable/", views.endpoint_enable, name="enable"),
]
