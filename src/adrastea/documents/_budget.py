"""A byte budget: how much one output may send to clients, over time."""

from __future__ import annotations

import math

from adrastea.documents._clock import Clock

__all__ = ["ByteBudget"]


class ByteBudget:
    """A token bucket of bytes: ``rate`` a second (``math.inf``: no limit), at most ``burst``.

    It starts empty; :meth:`fill` fills it.  :meth:`spend` may drive it negative
    (a cost that could not wait); later :meth:`covers` then waits until the rate
    has paid for it.
    """

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = 0.0
        self._stamp = 0.0  # clock time _tokens was computed at

    def fill(self) -> None:
        """Make the whole burst available now."""
        self._tokens = self._burst
        self._stamp = self._clock.now()

    def covers(self, nbytes: int) -> bool:
        """True if ``nbytes`` may be sent now."""
        self._refill()
        return nbytes <= max(0.0, self._tokens)

    def spend(self, nbytes: int) -> None:
        """Count ``nbytes`` as sent."""
        self._refill()
        self._tokens -= nbytes

    def ready_at(self, nbytes: int) -> float:
        """The clock time from which :meth:`covers` ``nbytes`` (as of the last refill)."""
        deficit = nbytes - self._tokens
        return self._stamp + max(0.0, deficit) / self._rate

    def _refill(self) -> None:
        now = self._clock.now()
        if math.isinf(self._rate):
            self._tokens = self._burst  # no limit: even if no time passed
        elif now > self._stamp:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = max(self._stamp, now)
