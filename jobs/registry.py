"""Job types: declared once, next to the function, in an app's ``tasks.py``.

    @job_type("audit.record_event", payload=RecordEvent, queue="audit", max_attempts=3)
    def record_event(payload: RecordEvent, ctx: JobContext): ...

The registry refuses a second declaration of a name and answers ``JobError`` for an unknown one.

Who may enqueue a type from outside the code (the API, the admin's forms, schedules staff create) is
part of its declaration: ``enqueue_permission`` names the Django permission a person needs
(``STAFF_ENQUEUE``, granted to the "Job operators" role, or any other); a type without one is internal
(bulk actions, retention, audit writes, the system's own jobs) and no person may enqueue it, whatever
their rights. Code enqueues any type; ``check_may_enqueue`` is for the doors people come through.
"""

from dataclasses import dataclass, field
from typing import Callable

from django.conf import settings
from pydantic import BaseModel

from jobs import options
from jobs.backoff import Exponential, Fixed
from jobs.errors import JobError, PermanentError
from jobs.ratelimit import RateLimit

_types: dict[str, "JobType"] = {}

# The permission the "Job operators" role grants for enqueueing job types by hand.
STAFF_ENQUEUE = "jobs.enqueue_jobrecord"


@dataclass(frozen=True)
class JobType:
    name: str
    func: Callable
    payload: type[BaseModel]
    queue: str = "default"
    max_attempts: int | None = None  # None: QUEUE_MAX_ATTEMPTS
    backoff: Callable[[int], float] = field(default_factory=Exponential)
    timeout: int = 300  # seconds; the attempt is stopped and recorded as "timeout"
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    give_up_on: tuple[type[BaseException], ...] = (PermanentError,)
    concurrency: Callable[[], int] | None = None  # at most this many at once per guild (jobs.concurrency)
    rate_limit: RateLimit | None = None  # at most so many starts per window, shared by all workers (jobs.ratelimit)
    unique: "Unique | None" = None  # one record per key in a scope (jobs.unique)
    enqueue_permission: str | None = None  # None: internal, never enqueued by a person
    acts_for_actor: bool = False  # runs with its actor's rights: a staff retry makes the retrier its actor
    priority: str = "default"  # the level of its jobs when the caller names none (jobs.options.priority_level)

    @property
    def internal(self) -> bool:
        return self.enqueue_permission is None

    def may_enqueue(self, user) -> bool:
        """Whether ``user`` may enqueue this type through the API, the admin or a schedule."""
        return (not self.internal and user is not None and user.is_active and user.is_staff
                and user.has_perm(self.enqueue_permission))

    @property
    def attempts_allowed(self) -> int:
        return self.max_attempts or settings.QUEUE_MAX_ATTEMPTS

    def is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, self.give_up_on):
            return False
        return isinstance(exc, self.retry_on)


def job_type(name, *, payload, queue="default", max_attempts=None, backoff=None, timeout=300,
             retry_on=(Exception,), give_up_on=(), concurrency=None, enqueue_permission=None,
             rate_limit=None, unique=None, acts_for_actor=False, priority="default"):
    """Declare ``func`` as the job type ``name``. ``PermanentError`` is always non-retryable.

    ``enqueue_permission`` (``"app_label.codename"``) opens the type to people who hold it; without
    it the type is internal. ``acts_for_actor`` says the job checks its actor's rights when it runs (a
    bulk action): whoever retries it becomes its actor, so that a retry never borrows another's rights.
    ``rate_limit`` (a ``RateLimit`` or ``"20/s"``, ``"10/m per guild"``) caps how many start per window
    (``jobs.ratelimit``). ``priority`` is the level of its jobs when the caller names none (alerts that
    must not wait behind a backlog of their own domain declare ``"high"``)."""
    if queue not in settings.QUEUE_DOMAINS:
        raise ValueError(f"job type {name!r}: unknown queue {queue!r} (known: {', '.join(settings.QUEUE_DOMAINS)})")
    if not (isinstance(payload, type) and issubclass(payload, BaseModel)):
        raise TypeError(f"job type {name!r}: payload must be a pydantic model class")
    max_attempts = _declared(name, options.clean_max_attempts, max_attempts)
    timeout = _declared(name, options.clean_timeout, timeout)
    priority = _declared(name, options.priority_level, priority)
    if backoff is not None and not callable(backoff):
        raise ValueError(f"job type {name!r}: backoff must be Fixed(...), Exponential(...) or a callable "
                         "delay(attempt) -> seconds")
    if isinstance(backoff, (Fixed, Exponential)):
        _declared(name, options.clean_backoff, backoff)  # the bounds a per-call backoff has
    if rate_limit is not None:
        try:
            rate_limit = RateLimit.parse(rate_limit)
        except ValueError as exc:
            raise ValueError(f"job type {name!r}: {exc}") from None
    if enqueue_permission is not None and (not isinstance(enqueue_permission, str) or enqueue_permission.count(".") != 1):
        raise ValueError(f"job type {name!r}: enqueue_permission must be 'app_label.codename'")
    if unique is not None:  # a jobs.unique.Unique: checked now, so that a bad key fails at import
        unique.check(name, payload)

    def register(func):
        if name in _types:
            raise ValueError(f"job type {name!r} is already declared by {_types[name].func.__module__}")
        _types[name] = JobType(
            name=name, func=func, payload=payload, queue=queue, max_attempts=max_attempts,
            backoff=backoff or Exponential(), timeout=timeout, retry_on=tuple(retry_on),
            give_up_on=(PermanentError, *give_up_on), concurrency=concurrency, rate_limit=rate_limit,
            enqueue_permission=enqueue_permission, unique=unique, acts_for_actor=acts_for_actor,
            priority=priority,
        )
        func.job_type = _types[name]
        return func

    return register


def _declared(name, clean, value):
    """A declared option checked as ``enqueue`` checks the same option per call (``jobs.options``): a bad
    declaration fails at import, naming the type, instead of at the first job."""
    try:
        return clean(value)
    except JobError as exc:
        raise ValueError(f"job type {name!r}: {exc.message}") from None


def get(name: str) -> JobType:
    try:
        return _types[name]
    except (KeyError, TypeError):
        raise JobError(f"unknown job type {name!r}", field="job_type", code="unknown_job_type") from None


def all_types() -> dict[str, JobType]:
    return dict(_types)


def enqueueable_by(user) -> list[str]:
    """The names of the types ``user`` may enqueue by hand, sorted (for forms and API documentation)."""
    return sorted(name for name, job_type in _types.items() if job_type.may_enqueue(user))


def check_may_enqueue(name: str, user) -> JobType:
    """The job type, if ``user`` may enqueue it by hand; else ``JobError`` (code ``forbidden``) saying
    what is missing: the type is internal, or the user lacks its permission."""
    job_type = get(name)
    if job_type.internal:
        raise JobError(f"job type {name!r} is internal: only jobdesk's own code enqueues it",
                       field="job_type", code="forbidden")
    if not job_type.may_enqueue(user):
        raise JobError(f"enqueueing {name!r} needs the permission {job_type.enqueue_permission!r}",
                       field="job_type", code="forbidden")
    return job_type


def autodiscover():
    """Import every installed app's ``tasks`` module, then those named in JOBS_TASK_MODULES.

    A name in JOBS_TASK_MODULES that is not a dotted module path, or a module that does not exist, stops
    start-up with an ``ImproperlyConfigured`` naming the setting and the module. A module that exists but
    fails to import (one of *its* imports is missing, say) raises its own error, traceback and all: that is
    a bug in the module, not a setting to fix."""
    import re
    from importlib import import_module

    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")
    for module in getattr(settings, "JOBS_TASK_MODULES", ()):
        module = module.strip()
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module):
            raise ImproperlyConfigured(f"JOBS_TASK_MODULES: {module!r} is not a dotted module path (like myapp.jobs)")
        try:
            import_module(module)
        except ModuleNotFoundError as exc:
            # Missing is the module itself or a package on its path ("no" of "no.such"), not something it imports.
            if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
                raise
            raise ImproperlyConfigured(f"JOBS_TASK_MODULES: no module named {module!r}") from None
