"""Signals other apps listen to; ``jobs`` imports no domain app.

``job_state_changed`` is sent inside the transaction that made the change, once per batch, with
``changes``: a list of ``StateChange``. A listener that talks to the outside world (webhooks, e-mail)
must defer that with ``transaction.on_commit``.
"""

from dataclasses import dataclass, field

from django.dispatch import Signal

job_state_changed = Signal()

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
