"""Every registered job type checks its payload: whatever JSON a caller sends through ``enqueue``, the
answer is either ``JobError`` naming the field (and nothing written) or a record whose payload its
schema accepts, never any other exception.

Payloads are generated (hypothesis): arbitrary JSON values (what ``json.loads`` accepts, NaN and
infinities included), and objects built from the type's own pydantic fields with values of any type.
No worker runs and nothing reaches Redis: each example runs in a savepoint rolled back at its end.
"""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings, strategies as st

from jobs import registry
from jobs.enqueue import enqueue
from jobs.errors import JobError
from jobs.models import JobRecord

pytestmark = pytest.mark.django_db

TYPES = sorted(registry.all_types())

# Text PostgreSQL's JSON cannot hold (NUL) and text UTF-8 cannot encode (a lone surrogate, which
# json.loads makes from "\ud800") come up too rarely by chance: drawn on purpose.
awkward_text = st.sampled_from(["", "\x00", "nul\x00inside", "\ud800", "\udfff tail", "\u2028", "🙂"])
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats() | st.text(max_size=30) | awkward_text)
keys = st.text(max_size=10) | awkward_text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(keys, inner, max_size=4), max_leaves=12)


def field_shaped(job_type_name):
    """Objects with the schema's own field names (each present or not) holding values of any type, plus
    now and then a key the schema does not know."""
    names = list(registry.get(job_type_name).payload.model_fields)
    return st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries({}, optional={name: json_values for name in names}),
        st.dictionaries(keys, json_values, max_size=2),
    )


def check(job_type_name, payload):
    """Enqueue in a savepoint, judge the outcome, roll back."""
    job_type = registry.get(job_type_name)
    with transaction.atomic():
        before = JobRecord.objects.count()
        try:
            record = enqueue(job_type_name, payload)
        except JobError as exc:
            assert exc.field and exc.field.startswith("payload"), (payload, exc.field, exc.message)
            assert exc.message
            assert JobRecord.objects.count() == before, "a refused payload wrote something"
        else:
            stored = JobRecord.objects.get(pk=record.pk)
            job_type.payload.model_validate(stored.payload)  # what the worker will do with it
            assert JobRecord.objects.count() == before + 1
        transaction.set_rollback(True)


SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("job_type_name", TYPES)
@SETTINGS
@given(payload=json_values)
def test_any_json_value_is_refused_by_field_or_stored_valid(job_type_name, payload):
    check(job_type_name, payload)


@pytest.mark.parametrize("job_type_name", TYPES)
@SETTINGS
@given(data=st.data())
def test_the_schemas_own_fields_with_values_of_any_type(job_type_name, data):
    check(job_type_name, data.draw(field_shaped(job_type_name)))


def test_every_job_type_is_covered():
    assert {"jobs.bulk_action", "exports.generate", "audit.record_event"} <= set(TYPES)


NASTY = [
    ("test.sleep", {"marker": "nul\x00inside", "seconds": 0}),
    ("test.sleep", {"marker": "m", "seconds": float("nan")}),
    ("test.sleep", {"marker": "m", "seconds": float("inf")}),
    ("audit.record_event", {"action": "a", "resource_type": "r", "resource_id": "1",
                            "data": {"x": float("nan"), "y": float("-inf"), "z": "\x00", "\x00": 1}}),
    ("jobs.bulk_action", {"action": "retry", "filters": {"q": "\x00"}}),
    ("exports.generate", {"export_id": 2**80}),
    ("exports.generate", {"export_id": True}),
    ("audit.rollup", {"day": "2026-02-31"}),
    ("test.sleep", {"marker": "lone \ud800 surrogate", "seconds": 0}),
    ("audit.record_event", {"action": "a", "resource_type": "r", "resource_id": "1", "data": {"\udc80": 1}}),
    ("audit.rollup", {"day": "\uff12\uff10\uff12\uff16-01-01"}),
]


@pytest.mark.parametrize("job_type_name, payload", NASTY, ids=[f"{n}-{i}" for i, (n, _p) in enumerate(NASTY)])
def test_known_nasty_payloads(job_type_name, payload):
    check(job_type_name, payload)
