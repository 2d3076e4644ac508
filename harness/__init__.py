"""Test and bench support: stand-ins as child processes and the ready-line CLI that starts them.

Not shipped with the package: ``atmosphere demo`` needs only ``atmosphere.standins``.
"""
