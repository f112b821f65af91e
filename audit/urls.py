from django.urls import path

from audit import views

app_name = "panel_audit"
urlpatterns = [
    path("<slug:slug>/audit/", views.guild_trail, name="trail"),
]
