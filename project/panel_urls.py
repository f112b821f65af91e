from django.urls import path

from project import views

app_name = "guild_settings"
urlpatterns = [
    path("<slug:slug>/settings/", views.guild_settings, name="page"),
]
