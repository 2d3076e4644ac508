"""ATMOSPHERE_RECORD_USAGE=false (the operator turns the usage history off, and the bench measures
recording against it) on /health and /metrics: requests are served, nothing is written, nothing
counted as dropped; with it on, /metrics counts the rows written."""

from __future__ import annotations

import sqlite3

from harness.polling import wait_until


def test_with_recording_turned_off_requests_are_served_nothing_is_written_and_health_says_why(backends, make_gateway):
    gateway = make_gateway(backends, record_usage=False)
    with gateway.client() as client:
        for _ in range(5):
            answer = client.post(
                "/v1/chat/completions", json={"model": "llama3.2:latest", "messages": [{"role": "user", "content": "hi"}]}
            )
            assert answer.status_code == 200
        usage = client.get("/health").json()["usage"]
        metrics = client.get("/metrics").text
    assert usage == {"ok": False, "dropped": 0, "reason": "recording is off (ATMOSPHERE_RECORD_USAGE=false)"}
    assert "atmosphere_usage_recording 0.0" in metrics and "atmosphere_usage_rows_dropped_total 0.0" in metrics
    gateway.stop()  # a clean stop would write anything queued
    connection = sqlite3.connect(gateway.settings.state_dir / "atmosphere.db")
    try:
        assert connection.execute("SELECT count(*) FROM usage").fetchone()[0] == 0
    finally:
        connection.close()


def test_with_recording_on_the_same_requests_are_rows(backends, make_gateway):
    gateway = make_gateway(backends)
    with gateway.client() as client:
        for _ in range(5):
            client.post(
                "/v1/chat/completions", json={"model": "llama3.2:latest", "messages": [{"role": "user", "content": "hi"}]}
            )
        assert wait_until(lambda: "atmosphere_usage_rows_written_total 5.0" in client.get("/metrics").text, 10)
        assert "atmosphere_usage_recording 1.0" in client.get("/metrics").text
