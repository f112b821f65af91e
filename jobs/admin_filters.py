"""Changelist filters and paginator that stay fast on a million-row ledger.

Django's stock filters on a plain char field run ``SELECT DISTINCT`` over the whole table on every page,
and its paginator counts every matching row. These list fixed choices (the configured queues, the
declared job types) and count at most ``COUNT_CAP`` rows.
"""

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from jobs import registry
from project.models import Guild


class _ExactFilter(admin.SimpleListFilter):
    field = None

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class QueueFilter(_ExactFilter):
    title = "queue"
    parameter_name = "queue"
    field = "queue"

    def lookups(self, request, model_admin):
        return [(name, name) for name in settings.RQ_QUEUES]


class JobTypeFilter(_ExactFilter):
    title = "job type"
    parameter_name = "job_type"
    field = "job_type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(registry.all_types())]


class GuildFilter(_ExactFilter):
    title = "guild"
    parameter_name = "guild"
    field = "guild_id"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Guild.objects.order_by("name").values_list("pk", "name")[:200]]


class ErrorTypeFilter(_ExactFilter):
    """Not shown in the sidebar (no lookups to list cheaply); used by the dead-letter groups' links."""

    title = "error type"
    parameter_name = "last_error_type"
    field = "last_error_type"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value)] if value else []

    def has_output(self):
        return bool(self.value())


class CappedPaginator(Paginator):
    """Counts at most ``COUNT_CAP`` rows (``COUNT(*)`` over a LIMITed subquery): pages stay fast on any
    filter, and the count reads "10,000" once there are at least that many."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return len(queryset)
        return queryset.order_by()[: self.COUNT_CAP].count()

