"""A worker's claim and a plain job's finish are one statement each, committed on their own, when no
listener acts on them; a change a listener wants (a dead job: notifications' digest and webhooks) still
gets the listener's writes in the same transaction as the change."""

import pytest
from django.db import connection

from jobs import states
from jobs.enqueue import enqueue
from jobs.models import Outcome, Status
from jobs.signals import job_state_changed
from notifications.models import DeadLetterNote

pytestmark = pytest.mark.django_db(transaction=True)


class Statements:
    """Each SQL statement the connection runs, with whether it ran inside a transaction block."""

    def __init__(self):
        self.seen = []

    def __call__(self, execute, sql, params, many, context):
        self.seen.append((sql.split()[0].upper(), connection.in_atomic_block))
        return execute(sql, params, many, context)


def run(record, to, **outcome):
    statements = Statements()
    with connection.execute_wrapper(statements):
        claimed, attempt = states.start_attempt(record.pk, worker="w1")
        assert claimed is not None
        assert states.finish_attempt(claimed, attempt, to, **outcome)
    return statements.seen


def test_a_plain_job_is_claimed_and_finished_in_two_statements_outside_any_block(clean_redis):
    record = enqueue("test.flaky", {"marker": "m", "fail_times": 0})

    seen = run(record, Status.SUCCEEDED, outcome=Outcome.SUCCEEDED)

    assert seen == [("WITH", False), ("WITH", False)], seen  # claim + attempt, finish + attempt
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED and record.attempts == 1


def test_a_dead_job_still_reaches_the_dead_letter_listener_in_the_same_transaction(clean_redis):
    record = enqueue("test.always_fails", {"marker": "m"})

    seen = run(record, Status.DEAD, outcome=Outcome.FAILED, error=("ValueError", "boom", "tb"), reason="test")

    assert seen[0] == ("WITH", False), "nobody listens to the claim"
    assert all(in_block for _, in_block in seen[1:]), seen  # the finish and the digest note, one transaction
    assert DeadLetterNote.objects.filter(job_type="test.always_fails").exists()


def test_a_listener_that_does_not_say_what_it_wants_gets_every_change_in_the_transaction(clean_redis):
    heard = []

    def listener(sender, changes, **kwargs):
        heard.extend((change.new, connection.in_atomic_block) for change in changes)

    job_state_changed.connect(listener, dispatch_uid="test.every_change")
    try:
        record = enqueue("test.flaky", {"marker": "m", "fail_times": 0})
        run(record, Status.SUCCEEDED, outcome=Outcome.SUCCEEDED)
    finally:
        job_state_changed.disconnect(dispatch_uid="test.every_change")

    assert heard == [(Status.QUEUED, True), (Status.RUNNING, True), (Status.SUCCEEDED, True)]


def test_a_finished_job_carried_to_the_next_claim_is_written_by_that_claim_in_one_statement(clean_redis):
    first = enqueue("test.flaky", {"marker": "first", "fail_times": 0})
    second = enqueue("test.flaky", {"marker": "second", "fail_times": 0})
    claimed, attempt = states.start_attempt(first.pk, worker="w1")
    finish = states.prepare_finish(claimed, attempt, Status.SUCCEEDED, outcome=Outcome.SUCCEEDED, result=None)

    statements = Statements()
    with connection.execute_wrapper(statements):
        record, _ = states.start_attempt(second.pk, worker="w1", after=finish)

    assert statements.seen == [("WITH", False)], statements.seen  # the end and the claim, one statement
    assert finish.written and record is not None
    first.refresh_from_db()
    assert first.status == Status.SUCCEEDED and first.attempt_set.get().outcome == Outcome.SUCCEEDED
    assert record.status == Status.RUNNING and record.attempts == 1


def test_a_carried_end_is_written_even_when_the_next_claim_finds_nothing_to_run(clean_redis):
    first = enqueue("test.flaky", {"marker": "first", "fail_times": 0})
    gone = enqueue("test.flaky", {"marker": "gone", "fail_times": 0})
    claimed, attempt = states.start_attempt(first.pk, worker="w1")
    finish = states.prepare_finish(claimed, attempt, Status.SUCCEEDED, outcome=Outcome.SUCCEEDED, result=None)
    assert states.transition(gone, Status.CANCELED, expected={Status.QUEUED}, reason="test")

    record, _ = states.start_attempt(gone.pk, worker="w1", after=finish)

    assert record is None and finish.written
    first.refresh_from_db()
    assert first.status == Status.SUCCEEDED
