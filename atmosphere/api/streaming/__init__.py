"""What every streaming face shares: SSE / NDJSON framing, and waiting on the upstream (heartbeats, disconnects, the drain)."""
