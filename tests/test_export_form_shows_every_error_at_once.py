"""The panel's export form shows every error at once: a range that ends before it starts is reported
with the other fields' errors, not only once they are fixed. Nothing is written."""

import pytest
from django.test import Client

from exports.models import Export
from jobs.models import JobRecord

pytestmark = pytest.mark.django_db


def post(user, data):
    client = Client()
    client.force_login(user)
    return client.post("/panel/mine/", data)


def test_the_range_and_the_metrics_errors_show_together(world):
    response = post(world["admin"], {"format": "csv", "start": "2026-04-01", "end": "2026-03-01", "metrics": []})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["end"] == ["the range ends before it starts"]
    assert errors["metrics"] == ["This field is required."]
    html = response.content.decode()
    assert "the range ends before it starts" in html and "This field is required." in html
    assert not Export.objects.exists() and not JobRecord.objects.exists()


def test_a_too_long_range_shows_beside_a_bad_format(world):
    response = post(world["admin"], {"format": "pdf", "start": "2025-01-01", "end": "2026-03-01",
                                     "metrics": ["messages"]})
    errors = response.context["form"].errors
    assert set(errors) == {"format", "end"} and "366 days" in errors["end"][0]


def test_a_date_that_does_not_parse_is_named_and_the_range_is_not_guessed(world):
    response = post(world["admin"], {"format": "csv", "start": "yesterday", "end": "2026-03-01", "metrics": []})
    errors = response.context["form"].errors
    assert set(errors) == {"start", "metrics"}


def test_a_member_is_refused_before_the_form_is_read(world):
    response = post(world["member"], {"format": "csv", "start": "2026-04-01", "end": "2026-03-01"})
    assert response.status_code == 403 and not Export.objects.exists()
