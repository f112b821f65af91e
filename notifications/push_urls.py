from django.urls import path

from notifications import push_views

app_name = "push"
urlpatterns = [
    path("me/push/", push_views.push_page, name="page"),
    path("me/push/subscriptions", push_views.subscriptions, name="subscriptions"),
    path("me/push/sw.js", push_views.service_worker, name="service_worker"),
]
