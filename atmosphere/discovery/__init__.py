"""Discovery: one adapter per backend, and the registry that owns their state."""
