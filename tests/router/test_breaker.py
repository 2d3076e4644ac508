"""The circuit breaker's rules, on a clock the test moves."""

from __future__ import annotations

from atmosphere.errors import BackendFailure
from atmosphere.router.breaker import Breakers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


BUSY = BackendFailure("chat: HTTP 503: server busy", status=503)


def breakers(clock: Clock) -> Breakers:
    return Breakers(threshold=3, base_cooldown=5.0, max_cooldown=40.0, clock=clock)


def test_three_failures_in_a_row_open_the_circuit_and_a_success_between_them_resets_the_count():
    clock = Clock()
    b = breakers(clock)
    b.failed("ollama", "m", BUSY)
    b.failed("ollama", "m", BUSY)
    b.succeeded("ollama", "m")
    b.failed("ollama", "m", BUSY)
    b.failed("ollama", "m", BUSY)
    assert b.admit("ollama", "m") is None
    b.failed("ollama", "m", BUSY)
    refused = b.admit("ollama", "m")
    assert refused is not None and "circuit open until" in refused and "server busy" in refused
    assert b.state("ollama")["state"] == "open"


def test_after_the_cool_down_one_trial_goes_through_and_its_failure_doubles_the_cool_down():
    clock = Clock()
    b = breakers(clock)
    for _ in range(3):
        b.failed("ollama", "m", BUSY)
    clock.now += 5.0
    assert b.admit("ollama", "m") is None  # the trial
    assert "half-open" in (b.admit("ollama", "m") or "")  # only one at a time
    assert b.state("ollama")["state"] == "half_open"
    b.failed("ollama", "m", BUSY)
    assert b.state("ollama")["open_until"] == clock.now + 10.0
    clock.now += 10.0
    assert b.admit("ollama", "m") is None
    b.succeeded("ollama", "m")
    assert b.state("ollama") == {
        "state": "closed",
        "open_until": None,
        "last_failure": "chat: HTTP 503: server busy",
        "failures": 0,
    }
    assert b.admit("ollama", "m") is None and b.admit("ollama", "m") is None


def test_a_trial_whose_client_left_frees_the_slot_for_the_next_request():
    clock = Clock()
    b = breakers(clock)
    for _ in range(3):
        b.failed("ollama", "m", BUSY)
    clock.now += 5.0
    assert b.admit("ollama", "m") is None
    b.abandoned("ollama", "m")
    assert b.admit("ollama", "m") is None


def test_client_errors_and_missing_models_never_trip_it():
    clock = Clock()
    b = breakers(clock)
    for failure in (
        BackendFailure("HTTP 404: model 'x' not found", status=404),
        BackendFailure("HTTP 400: bad request", status=400, retryable=False),
    ):
        for _ in range(5):
            b.failed("ollama", "m", failure)
    assert b.admit("ollama", "m") is None and b.state("ollama")["state"] == "closed"


def test_a_broken_model_opens_only_its_own_circuit_while_other_models_succeed():
    clock = Clock()
    b = breakers(clock)
    for _ in range(3):
        b.failed("ollama", "broken", BackendFailure("HTTP 500: model failed to load", status=500))
        b.succeeded("ollama", "fine")
    assert "circuit open for broken" in (b.admit("ollama", "broken") or "")
    assert b.admit("ollama", "fine") is None


def test_retry_after_holds_it_open_for_exactly_that_long():
    clock = Clock()
    b = breakers(clock)
    b.failed("ollama", "m", BackendFailure("HTTP 429: slow down", status=429, retry_after=30))
    assert b.state("ollama")["open_until"] == clock.now + 30
    clock.now += 29.9
    assert b.admit("ollama", "m") is not None
    clock.now += 0.2
    assert b.admit("ollama", "m") is None
