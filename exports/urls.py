from django.urls import path

from exports import views

app_name = "panel"
urlpatterns = [
    path("", views.guild_list, name="guilds"),
    path("downloads/<str:token>/", views.download, name="download"),
    path("<slug:slug>/", views.guild_home, name="guild"),
    path("<slug:slug>/exports/<int:export_id>/retry/", views.retry_export, name="retry_export"),
]
