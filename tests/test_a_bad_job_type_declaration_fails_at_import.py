"""A job type's declaration is checked as ``enqueue`` checks the same options per call: a timeout of 0,
a negative backoff or ``max_attempts="3"`` fails when the module declaring it is imported, naming the type
and the option, instead of at the first job (or never, running with a timeout RQ reads as "none")."""

from datetime import timedelta

import pytest
from pydantic import BaseModel

from jobs import registry
from jobs.backoff import Exponential, Fixed


class Nothing(BaseModel):
    pass


@pytest.mark.parametrize("options, problem", [
    ({"timeout": 0}, "timeout must be a whole number from 1"),
    ({"timeout": -5}, "timeout must be a whole number from 1"),
    ({"timeout": 1.5}, "timeout must be a whole number"),
    ({"timeout": "60"}, "timeout must be a whole number"),
    ({"timeout": 10**9}, "timeout must be a whole number from 1 to 604800"),
    ({"timeout": timedelta(seconds=1.5)}, "timeout must be whole seconds"),
    ({"max_attempts": 0}, "max_attempts must be a whole number from 1 to 1000"),
    ({"max_attempts": 5000}, "max_attempts must be a whole number from 1 to 1000"),
    ({"max_attempts": 2.5}, "max_attempts must be a whole number"),
    ({"max_attempts": "3"}, "max_attempts must be a whole number"),
    ({"backoff": Fixed(-3)}, "backoff.seconds must be a number from 0"),
    ({"backoff": Exponential(base=-1)}, "backoff.base must be a number from 0"),
    ({"backoff": Exponential(factor=0)}, "backoff.factor must be a number from 1"),
    ({"backoff": "x"}, "backoff must be Fixed(...), Exponential(...) or a callable"),
    ({"backoff": 5}, "backoff must be Fixed(...), Exponential(...) or a callable"),
    ({"priority": "urgent"}, "unknown priority 'urgent'"),
    ({"priority": -1}, "priority -1 is out of range"),
])
def test_a_bad_option_is_refused_at_declaration_naming_the_type(options, problem):
    with pytest.raises(ValueError) as refused:
        registry.job_type("test.badly_declared", payload=Nothing, **options)
    assert str(refused.value).startswith("job type 'test.badly_declared': " + problem), str(refused.value)
    assert "test.badly_declared" not in registry.all_types()


def test_good_declarations_are_kept_as_given():
    declare = registry.job_type("test.well_declared", payload=Nothing, timeout=timedelta(minutes=2), max_attempts=7,
                                backoff=lambda attempt: 3 * attempt)
    try:
        declare(lambda payload, ctx: None)
        declared = registry.get("test.well_declared")
        assert (declared.timeout, declared.max_attempts, declared.backoff(2)) == (120, 7, 6)
    finally:
        registry._types.pop("test.well_declared", None)
