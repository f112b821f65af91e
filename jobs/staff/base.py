"""What every staff page shares: the admin's context (site header, breadcrumbs, the ledger's options)."""

from django.template.response import TemplateResponse
from django.views import View

from jobs.models import JobRecord


class _AdminPage(View):
    model_admin = None
    template = None
    title = ""

    def render(self, request, **context):
        return TemplateResponse(request, self.template, {
            **self.model_admin.admin_site.each_context(request), "opts": JobRecord._meta, "title": self.title,
            **context,
        })
