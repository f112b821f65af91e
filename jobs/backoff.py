"""Backoff policies: how long a failed job waits before its next attempt.

A policy is a callable ``delay(attempt) -> seconds`` where ``attempt`` is the number of the attempt that
just failed (1 for the first). Delays are floats; RQ's scheduler rounds them up to whole seconds.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Exponential:
    """``base * factor ** (attempt - 1)`` seconds, capped at ``cap``.

    With ``jitter`` ("equal jitter"), the delay is drawn uniformly from the upper half of that value, so
    that jobs failing together do not all retry in the same second, and each delay stays at least half
    the nominal one.
    """

    base: float = 2.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: bool = True

    def __call__(self, attempt: int) -> float:
        nominal = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        if not self.jitter:
            return nominal
        return nominal / 2 + random.uniform(0, nominal / 2)


@dataclass(frozen=True)
class Fixed:
    """The same delay after every failure."""

    seconds: float = 10.0

    def __call__(self, attempt: int) -> float:
        return self.seconds
