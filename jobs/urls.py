from django.urls import path

from jobs.api import api

urlpatterns = [path("", api.urls)]
