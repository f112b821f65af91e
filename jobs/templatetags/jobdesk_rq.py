"""Template tags for django-rq's pages (``templates/django_rq/``): what jobdesk's ledger says of them."""

from django import template

from jobs import selectors

register = template.Library()


@register.simple_tag
def ledger_record(rq_job_id):
    """The ledger record of an RQ job shown by django-rq, or None if it is not one of jobdesk's."""
    return selectors.record_of_rq_job(rq_job_id)


@register.simple_tag
def jobdesk_schedules():
    return selectors.schedules_overview()
