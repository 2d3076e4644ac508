"""Upstream HTTP: the keep-alive transport and the helpers every adapter uses to talk to a backend."""
