"""What happened: the recent-requests log, per-host statistics and Prometheus metrics."""
