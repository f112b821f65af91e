from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from jobs import rq_dashboard
from jobs.metrics import metrics
from project.api import api
from project.health import healthz, readyz
from project.views import home


def favicon(request):
    """Browsers ask for /favicon.ico whatever a page links: the icon (a static file), never a logged 404."""
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/django-rq/", include((rq_dashboard.urlpatterns, "django_rq"))),  # with jobdesk's roles
    path("admin/", admin.site.urls),
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/", api.urls),
    path("panel/", include("notifications.push_urls")),  # before exports' <slug>/ pages
    path("panel/", include("exports.urls")),
    path("panel/", include("notifications.urls")),
    path("panel/", include("audit.urls")),
    path("panel/", include("branding.urls")),
    path("panel/", include("project.panel_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
]
