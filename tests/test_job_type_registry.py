"""Job types are declared once; an unknown or second declaration is refused."""

import pytest
from pydantic import BaseModel

from jobs import registry
from jobs.errors import JobError


class P(BaseModel):
    n: int


def test_a_second_declaration_of_a_name_is_refused():
    with pytest.raises(ValueError, match="already declared"):
        registry.job_type("test.sleep", payload=P)(lambda payload, ctx: None)
    assert registry.get("test.sleep").func.__module__ == "tests.jobtypes"


def test_an_unknown_type_is_a_job_error():
    with pytest.raises(JobError) as caught:
        registry.get("nobody.declared.this")
    assert caught.value.field == "job_type"


@pytest.mark.parametrize("kwargs, message", [
    ({"queue": "nowhere"}, "unknown queue"),
    ({"max_attempts": 0}, "max_attempts"),
])
def test_a_bad_declaration_fails_at_import(kwargs, message):
    with pytest.raises(ValueError, match=message):
        registry.job_type("test.bad_declaration", payload=P, **kwargs)


def test_payload_must_be_a_pydantic_model():
    with pytest.raises(TypeError):
        registry.job_type("test.bad_payload_type", payload=dict)


def test_the_demo_audit_type_is_declared_in_its_app():
    declared = registry.get("audit.record_event")
    assert declared.func.__module__ == "audit.tasks" and declared.queue == "audit"


def test_exponential_backoff_with_jitter_stays_within_half_and_full_delay():
    from jobs.backoff import Exponential

    policy = Exponential(base=2, factor=2, cap=60)
    for attempt, nominal in [(1, 2), (2, 4), (3, 8), (10, 60)]:
        delays = [policy(attempt) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(set(delays)) > 1, "jitter spreads retries"
