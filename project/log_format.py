"""Log lines as JSON objects, one per line (``LOG_FORMAT=json``, the production default), for log shippers.

Each line has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message`` and, where known,
``correlation_id``, ``job_id``, ``job_type``, ``guild_id``, ``actor_id`` (set by
``project.correlation.CorrelationIdFilter``), plus ``exception`` (the formatted traceback) when there is one.
"""

import json
import logging
from datetime import datetime, timezone

from project.correlation import LOG_FIELDS


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = getattr(record, "correlation_id", None)
        if cid and cid != "-":
            line["correlation_id"] = cid
        for name in LOG_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)
