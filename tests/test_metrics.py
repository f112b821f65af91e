"""GET /metrics: Prometheus text for monitoring, for staff who may view jobs or the metrics token only."""

import pytest
from django.test import Client

from jobs.enqueue import enqueue
from tests.conftest import VIEWERS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def test_metrics_show_queues_and_open_jobs_to_the_metrics_token(settings, world):
    settings.METRICS_TOKEN = "scrape-token-0001"
    record = enqueue("test.sleep", {"marker": "m", "seconds": 0})
    response = Client().get("/metrics", headers={"Authorization": "Bearer scrape-token-0001"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert f'jobdesk_queue_waiting{{queue="{record.queue}"}} 1.0' in text
    assert 'jobdesk_jobs_open{status="queued"} 1.0' in text
    assert f'jobdesk_queue_paused{{queue="{record.queue}"}} 0.0' in text


@pytest.mark.parametrize("who, header, status", [
    (None, "", 401), (None, "Bearer wrong", 401), ("admin", "", 403), ("staff", "", 403), ("viewer", "", 200),
])
def test_metrics_are_not_public(settings, world, who, header, status):
    """The metrics token, or staff who may view jobs (being staff alone grants nothing, as in the admin)."""
    settings.METRICS_TOKEN = "scrape-token-0001"
    client = Client()
    if who == "viewer":
        client.force_login(make_staff("viewer", VIEWERS))
    elif who:
        client.force_login(world[who])
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
