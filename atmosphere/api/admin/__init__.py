"""Atmosphere's own endpoints, one module per resource: integrations, keys, usage, requests,
equivalents, health, the dashboard, ``/docs`` and ``/ws``."""
