"""Routing: which backend serves a request, and falling back when one fails."""
