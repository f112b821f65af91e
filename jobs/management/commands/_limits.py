"""Reading and bounding the numbers an operator types into the maintenance commands.

Why: ``inf``, ``nan`` and ``1e20`` pass argparse's ``type=float`` and then fail deep in ``timedelta`` or the
database with a traceback (OverflowError, ValueError, DataError), and a word where a number belongs makes
argparse print the whole usage. The options are read as text here instead: anything that is not a number
within its bounds is a ``CommandError`` naming the option, one line on stderr and a non-zero exit. Values
given as numbers (``call_command(..., batch=10)``) are checked the same way. (This module's name starts
with "_", so Django does not take it for a command.)
"""

import math
import re

from django.core.management.base import CommandError

# The longest grace or age a maintenance command takes, in seconds: one day. Anything longer is a typo
# (milliseconds for seconds); the scheduler runs these passes with graces of seconds.
MAX_SECONDS = 86400


def _shown(value):
    """``value`` as an error shows it: text quoted, and cut short (an operator may paste anything)."""
    text = str(value)
    text = text if len(text) <= 24 else text[:24] + "…"
    return repr(text) if isinstance(value, str) else text


def number(option, value):
    """``value`` as a float (text or a number), or a ``CommandError`` naming ``option``; may be inf or nan."""
    if isinstance(value, bool):
        raise CommandError(f"{option}: must be a number, got {value}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int past float's range
            return math.inf
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CommandError(f"{option}: must be a number, got {_shown(value)}") from None


def seconds(option, value, *, maximum=MAX_SECONDS):
    """``value`` as a finite number of seconds from 0 to ``maximum``, else a ``CommandError``."""
    found = number(option, value)
    if not (math.isfinite(found) and 0 <= found <= maximum):
        raise CommandError(f"{option}: must be a number of seconds from 0 to {maximum}, got {_shown(value)}")
    return found


def whole_number(option, value, *, low, high):
    """``value`` as an int from ``low`` to ``high`` (ASCII digits only: ``int()`` takes "٣"), else a ``CommandError``."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,19}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CommandError(f"{option}: must be a whole number from {low} to {high}, got {_shown(value)}")
    return value
