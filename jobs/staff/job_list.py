"""The job list's live cells: status, attempts and duration of each row refresh themselves.

Each of those cells is a ``<span id="job-<field>-<id>">``. The page polls ``LiveRowsView`` every
``ADMIN_REFRESH_SECONDS`` (htmx, while the tab is visible) with the ids it shows; the answer is those
cells again as htmx out-of-band swaps, so only they change: the rows, their checkboxes and a selection
in progress stay as they are. One primary-key query (and one for attempts) per poll, whatever the
ledger's size, and a count of newer matching jobs capped at ``NEWER_CAP``.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from jobs import selectors
from jobs.admin_display import status_badge
from jobs.staff.base import _AdminPage
from jobs.staff.job_page import durations, scheduled_for

MAX_IDS = 200
NEWER_CAP = 100


def short(value, length=8):
    """The first ``length`` characters, the whole value on hover."""
    value = str(value or "")
    if len(value) <= length + 1:
        return value or "-"
    return format_html('<span title="{}">{}…</span>', value, value[:length])


def breakable(name):
    """A dotted name (``notifications.deliver_webhook``) that may wrap after its dots, so that a long
    one takes two short lines of its column rather than widen the whole list."""
    parts = str(name).split(".")
    pieces = [f"{part}." for part in parts[:-1]] + parts[-1:]
    return format_html_join(mark_safe("<wbr>"), "{}", ((piece,) for piece in pieces))


def without_namespace(queue):
    """``default.high`` for ``jobdesk.default.high`` (every queue shares the namespace); whole on hover.
    It may wrap after its dots (``breakable``)."""
    prefix = f"{settings.QUEUE_NAMESPACE}."
    if not queue.startswith(prefix):
        return breakable(queue)
    return format_html('<span title="{}">{}</span>', queue, breakable(queue[len(prefix):]))


def when(moment: datetime):
    """A compact local time: "14:03:07" today, "12-05 14:03" this year, the date otherwise."""
    if moment is None:
        return "-"
    local, now = timezone.localtime(moment), timezone.localtime()
    if local.date() == now.date():
        text = local.strftime("%H:%M:%S")
    elif local.year == now.year:
        text = local.strftime("%m-%d %H:%M")
    else:
        text = local.strftime("%Y-%m-%d")
    return format_html('<span title="{}">{}</span>', local.isoformat(timespec="milliseconds"), text)


def _seconds(delta):
    seconds = delta.total_seconds()
    return f"{seconds:.3f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _cell(record, field):
    if field == "status":
        ahead = scheduled_for(record)
        badge = status_badge(record.status, record.get_status_display())
        if ahead is not None:
            return format_html('{} <span class="scheduled-for" title="{}">scheduled for {}</span>', badge,
                               ahead.isoformat(), when(ahead))
        return badge
    if field == "attempts":
        return f"{record.attempts}/{record.max_attempts}"
    times = durations(record)
    if times["last"] is None:
        return "-"
    if times["attempts"] > 1 and times["total"] is not None:
        return format_html('{} <small title="the last attempt; {} is the run time over {} attempts">({} total)</small>',
                           _seconds(times["last"]), _seconds(times["total"]), times["attempts"],
                           _seconds(times["total"]))
    return _seconds(times["last"])


def live_cell(record, field, oob=False):
    """A row's live cell; ``oob`` marks it for htmx to swap in place of the one with its id."""
    return format_html('<span id="job-{}-{}" class="job-live" data-job-id="{}"{}>{}</span>', field, record.pk,
                       record.pk, " hx-swap-oob=\"true\"" if oob else "", _cell(record, field))


class LiveRowsView(_AdminPage):
    """GET ``?ids=<id>,<id>…`` (the rows a list page shows, at most ``MAX_IDS``) and the list's own filter
    parameters with ``since`` (when the page was drawn): the rows' live cells, out of band, and a note of
    how many newer jobs match the filter. A ``since`` that is no possible time, or a filter value that cannot
    select jobs (``jobs_filter_problems``), is a 400."""

    template = "admin/jobs/jobrecord/_live_rows.html"

    def get(self, request):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        filters = selectors.bulk_filters(request.GET)
        try:
            since = parse_datetime(request.GET.get("since", ""))  # ValueError for 2024-02-30T00:00:00
        except ValueError:
            return HttpResponseBadRequest("since is not a possible date and time.")
        problems = selectors.jobs_filter_problems(filters)
        if problems:
            return HttpResponseBadRequest("; ".join(problems.values()))
        ids = []
        for value in request.GET.get("ids", "").split(",")[:MAX_IDS]:
            try:
                ids.append(uuid.UUID(value.strip()))
            except ValueError:
                continue
        records = selectors.jobs_with_attempt_times(ids)
        cells = format_html_join("", "{}", ((live_cell(record, field, oob=True),) for record in records
                                            for field in ("status", "attempts", "duration")))
        newer = 0
        if since is not None and request.GET.get("p", "1") in ("", "1", "0"):
            newer = selectors.newer_jobs_count(filters, since, NEWER_CAP)
        return TemplateResponse(request, self.template, {
            "cells": cells, "newer": newer, "newer_capped": newer >= NEWER_CAP,
            "refresh": settings.ADMIN_REFRESH_SECONDS, "now": timezone.now(),
        })
