"""Signals other apps listen to; ``jobs`` imports no domain app.

``job_state_changed`` is sent inside the transaction that made the change, once per batch, with
``changes``: a list of ``StateChange``. A listener that talks to the outside world (webhooks, e-mail)
must defer that with ``transaction.on_commit``.
"""

from dataclasses import dataclass, field

from django.dispatch import Signal

job_state_changed = Signal()

# dispatch_uid -> wants(new_status, job_type): the changes a listener acts on (see ``listen``).
_wants = {}


def listen(receiver, *, dispatch_uid, wants):
    """Connect ``receiver`` to ``job_state_changed``, saying which changes it acts on.

    ``wants(new_status, job_type)`` is True for a change the receiver writes or sends something for;
    ``job_type`` is None when the caller does not know it yet (a claim: any type). A change that no
    listener wants is written as one statement in autocommit instead of a transaction around the
    receivers (``jobs.states.change_scope``), which spares every claim and most finishes two round trips.
    A receiver connected with ``job_state_changed.connect`` is taken to want every change.
    """
    _wants[dispatch_uid] = wants
    job_state_changed.connect(receiver, dispatch_uid=dispatch_uid)


def is_wanted(new_status, job_type):
    """Whether any connected receiver acts on a change to ``new_status`` of ``job_type``."""
    for lookup_key, *_ in job_state_changed.receivers:
        wants = _wants.get(lookup_key[0])
        if wants is None or wants(new_status, job_type):
            return True
    return False

# A staff member acted on jobs or queues (retry, cancel, pause, bulk actions): ``actor``, ``action``,
# ``resource_type``, ``resource_id``, ``data``. Sent after the action; the audit app records it.
staff_action = Signal()


@dataclass(frozen=True)
class StateChange:
    record_id: object
    job_type: str
    old: str | None  # None for a new record (the enqueue)
    new: str
    correlation_id: str
    guild_id: int | None = None
    actor_id: int | None = None  # who caused the change: the enqueuer, or the staff member
    reason: str = ""
    data: dict = field(default_factory=dict)
