"""Atmosphere's speed benchmark: the gateway against lean stand-in backends, all as processes.

Run it with ``python -m bench`` (``make bench``); see bench/README.md for what each measure means.
"""
