"""The notifications settings stop start-up with a message naming the variable when their value is bad
(an e-mail URL that is not one, a dead-letter webhook without its signing secret, a staff list with
something that is not an address, a window of 0 seconds), and good values start."""

import pytest

from tests.test_settings_validation import start


def test_good_notification_settings_start():
    result = start(EMAIL_URL="smtp+tls://user:pw@smtp.example.com:587", DEFAULT_FROM_EMAIL="jobs@example.com",
                   SITE_URL="https://jobs.example.com", QUEUE_DLQ_WEBHOOK="https://alerts.example.com/dlq",
                   QUEUE_DLQ_WEBHOOK_SECRET="s" * 32, QUEUE_DLQ_EMAILS="oncall@example.com,ops@example.com",
                   NOTIFICATIONS_DLQ_DIGEST_SECONDS="600", NOTIFICATIONS_WEBHOOK_BACKOFF="10",
                   NOTIFICATIONS_EMAIL_BACKOFF="30")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("env, name", [
    ({"EMAIL_URL": "carrier-pigeon://coop"}, "EMAIL_URL"),
    ({"SITE_URL": "jobs.example.com"}, "SITE_URL"),
    ({"QUEUE_DLQ_WEBHOOK": "https://alerts.example.com/dlq"}, "QUEUE_DLQ_WEBHOOK_SECRET"),
    ({"QUEUE_DLQ_WEBHOOK": "https://alerts.example.com/dlq", "QUEUE_DLQ_WEBHOOK_SECRET": "short"},
     "QUEUE_DLQ_WEBHOOK_SECRET"),
    ({"QUEUE_DLQ_EMAILS": "oncall@example.com,not-an-address"}, "QUEUE_DLQ_EMAILS"),
    ({"NOTIFICATIONS_DLQ_DIGEST_SECONDS": "0"}, "NOTIFICATIONS_DLQ_DIGEST_SECONDS"),
    ({"NOTIFICATIONS_WEBHOOK_BACKOFF": "soon"}, "NOTIFICATIONS_WEBHOOK_BACKOFF"),
    ({"NOTIFICATIONS_EMAIL_BACKOFF": "-1"}, "NOTIFICATIONS_EMAIL_BACKOFF"),
    ({"NOTIFICATIONS_KEEP_DAYS": "0"}, "NOTIFICATIONS_KEEP_DAYS"),
])
def test_a_bad_notification_setting_stops_start_up_naming_it(env, name):
    result = start(**env)
    assert result.returncode != 0 and name in result.stderr, result.stderr
