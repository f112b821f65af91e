"""Changelist filters and paginator that stay fast on a million-row ledger.

Django's stock filters on a plain char field run ``SELECT DISTINCT`` over the whole table on every page,
and its paginator counts every matching row. These list fixed choices (the configured queues, the
declared job types) and count at most ``COUNT_CAP`` rows.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, Paginator
from django.utils.functional import cached_property

from jobs import registry
from project.models import Guild


class _ExactFilter(admin.SimpleListFilter):
    """A value the field cannot hold (``?guild=abc``) is refused as Django's own filters refuse one: the
    changelist answers with its error view (``?e=1``), never a 500."""

    field = None

    def queryset(self, request, queryset):
        value = self.value()
        try:
            return queryset.filter(**{self.field: value}) if value else queryset
        except (ValueError, ValidationError) as exc:
            raise IncorrectLookupParameters(exc) from exc


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
    """The error types of dead jobs (``selectors.dead_error_types``: a loose index scan, not a
    ``SELECT DISTINCT``); the dead-letter groups' links use it too, with any error type."""

    title = "error type"
    parameter_name = "last_error_type"
    field = "last_error_type"

    def lookups(self, request, model_admin):
        from jobs.selectors import dead_error_types

        found = dead_error_types()
        value = self.value()
        if value and value not in found:
            found.append(value)
        return [(name, name.rsplit(".", 1)[-1]) for name in found]


class CappedPaginator(Paginator):
    """Counts at most ``COUNT_CAP`` rows (``COUNT(*)`` over a LIMITed subquery): pages stay fast on any
    filter, and the count reads "10,000" once there are at least that many. A deep page first finds its
    ids (an index-only walk of the ordering index), then loads only those rows with their joins."""

    COUNT_CAP = 10_000
    DEEP = 1_000

    def validate_number(self, number):
        # Past the last page (the count stops at COUNT_CAP): show the last page, not the admin's
        # "something's wrong with your database" page.
        try:
            return super().validate_number(number)
        except EmptyPage:
            return max(1, self.num_pages)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        queryset = self.object_list
        if bottom < self.DEEP or not hasattr(queryset, "query"):
            return super().page(number)
        ids = list(queryset.values_list("pk", flat=True)[bottom: bottom + self.per_page])
        rows = {row.pk: row for row in queryset.filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)

    @cached_property
    def count(self):
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return len(queryset)
        return queryset.order_by()[: self.COUNT_CAP].count()

