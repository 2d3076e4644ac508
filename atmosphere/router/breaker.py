"""Passive health: a circuit breaker per backend and per backend+model.

The probe sees a backend that is down; it cannot see one whose health check is green
while every answer fails (an instant ``503 server busy``, a stream cut after two chunks,
a masked failure). Without a breaker every request pays for that again. So:

- ``threshold`` consecutive failures open a circuit: the planner skips it, like an
  unhealthy backend, saying why and until when.
- After a cool-down (``base_cooldown``, doubling on each failed trial up to
  ``max_cooldown``) one request is let through as a trial (half-open); success closes
  the circuit, failure opens it again for longer.
- A 429 or 503 carrying ``Retry-After`` opens it at once for that long.
- Only the backend's own failures count: model-not-found and other client errors
  (non-retryable, or 404/405) never trip it.

Every failure counts on the backend+model circuit and on the backend's: a model that
alone is broken opens only its own (successes of other models keep the backend's
closed), a backend that fails whatever it serves opens both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from atmosphere.errors import BackendFailure

_TRIAL_STALE_S = 300.0  # a trial that never reported back (its client left) frees the slot


@dataclass(slots=True)
class _Circuit:
    failures: int = 0  # consecutive
    trips: int = 0  # consecutive openings: the cool-down grows with them
    open_until: float | None = None  # epoch seconds
    trial_since: float | None = None  # a half-open trial is in flight
    last_failure: str | None = None

    def state(self, now: float) -> str:
        if self.open_until is None:
            return "closed"
        return "open" if now < self.open_until and self.trial_since is None else "half_open"


class Breakers:
    def __init__(
        self,
        *,
        threshold: int = 3,
        base_cooldown: float = 5.0,
        max_cooldown: float = 300.0,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[str], None] = lambda _backend: None,
        on_trip: Callable[[str], None] = lambda _backend: None,
    ) -> None:
        self.threshold = threshold
        self.base_cooldown = base_cooldown
        self.max_cooldown = max_cooldown
        self._clock = clock
        self._on_change = on_change
        self._on_trip = on_trip
        self._circuits: dict[tuple[str, str | None], _Circuit] = {}

    # --- the plan step ---------------------------------------------------------------

    def admit(self, backend: str, model: str, *, take: bool = True) -> str | None:
        """None to let a request through (taking the trial when half-open), else why not.
        ``take=False`` only asks (for ranking), leaving the trial to whoever is sent."""
        now = self._clock()
        for key in ((backend, None), (backend, model)):
            circuit = self._circuits.get(key)
            if circuit is None or circuit.open_until is None:
                continue
            if now < circuit.open_until:
                what = "circuit open" if key[1] is None else f"circuit open for {model}"
                return f"{what} until {time.strftime('%H:%M:%S', time.localtime(circuit.open_until))} ({circuit.last_failure})"
            if circuit.trial_since is not None and now - circuit.trial_since < _TRIAL_STALE_S:
                return f"circuit half-open, a trial request is under way ({circuit.last_failure})"
        if not take:
            return None
        for key in ((backend, None), (backend, model)):
            circuit = self._circuits.get(key)
            if circuit is not None and circuit.open_until is not None:
                circuit.trial_since = now
                self._on_change(backend)
        return None

    # --- outcomes --------------------------------------------------------------------

    def succeeded(self, backend: str, model: str) -> None:
        changed = False
        for key in ((backend, None), (backend, model)):
            circuit = self._circuits.get(key)
            if circuit is None:
                continue
            changed = changed or circuit.open_until is not None
            if key[1] is not None:
                del self._circuits[key]  # model circuits exist only while something is wrong
            else:
                circuit.failures, circuit.trips, circuit.open_until, circuit.trial_since = 0, 0, None, None
        if changed:
            self._on_change(backend)

    def failed(self, backend: str, model: str, failure: BackendFailure) -> None:
        if not trips(failure):
            self.abandoned(backend, model)
            return
        now = self._clock()
        opened = False
        for key in ((backend, None), (backend, model)):
            circuit = self._circuits.setdefault(key, _Circuit())
            circuit.failures += 1
            circuit.last_failure = failure.reason
            was_trial = circuit.trial_since is not None
            circuit.trial_since = None
            hold = failure.retry_after if failure.status in (429, 503) and failure.retry_after else None
            if hold is not None or was_trial or circuit.failures >= self.threshold:
                cooldown = hold if hold is not None else min(self.max_cooldown, self.base_cooldown * 2**circuit.trips)
                circuit.trips += 1
                circuit.open_until = now + cooldown
                opened = True
        if opened:
            self._on_trip(backend)
        self._on_change(backend)

    def abandoned(self, backend: str, model: str) -> None:
        """A trial that ended with no verdict (the client left, or a client error): free the slot."""
        for key in ((backend, None), (backend, model)):
            circuit = self._circuits.get(key)
            if circuit is not None:
                circuit.trial_since = None

    # --- what cards show -------------------------------------------------------------

    def state(self, backend: str) -> dict[str, Any]:
        """The contract's ``breaker`` field: the backend's circuit (or its worst model's)."""
        now = self._clock()
        circuits = [c for (b, _m), c in self._circuits.items() if b == backend]
        if not circuits:
            return {"state": "closed", "open_until": None, "last_failure": None, "failures": 0}
        rank = {"open": 2, "half_open": 1, "closed": 0}
        worst = max(circuits, key=lambda c: (rank[c.state(now)], c.failures))
        return {
            "state": worst.state(now),
            "open_until": worst.open_until,
            "last_failure": worst.last_failure,
            "failures": worst.failures,
        }


def trips(failure: BackendFailure) -> bool:
    """Whether a failure is the backend's fault (rather than the request's or the model name's)."""
    if not failure.retryable:
        return False
    return failure.status not in (400, 401, 403, 404, 405, 413, 422)
