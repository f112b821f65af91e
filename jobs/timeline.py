"""The job page's timeline: what other apps know happened under a job's correlation ID.

``jobs`` imports no domain app (DESIGN.md), so it does not read the audit log itself: an app that keeps
such a record registers a provider in its ``AppConfig.ready()``::

    from jobs.timeline import register_timeline
    register_timeline(audit_timeline)

A provider is called as ``provider(correlation_id, limit)`` and returns at most ``limit`` entries, oldest
first, each with ``created_at``, ``action``, ``resource_type``, ``resource_id``, ``actor`` and ``data``
(an ``AuditEvent`` has them). With no provider the job page shows an empty timeline.
"""

_providers = []


def register_timeline(provider):
    """Add ``provider`` to the job page's timeline (once, however often ``ready()`` runs); returns it."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def timeline_for(correlation_id: str, limit: int) -> list:
    """Every provider's entries for ``correlation_id``, oldest first, at most ``limit`` of them."""
    entries = [entry for provider in _providers for entry in provider(correlation_id, limit)]
    if len(_providers) > 1:
        entries.sort(key=lambda entry: entry.created_at)
    return entries[:limit]
