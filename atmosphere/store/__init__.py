"""Where state that outlives a process and is shared between replicas lives: client keys and the
usage history, in SQLite (the state directory, by default) or PostgreSQL (``ATMOSPHERE_DATABASE_URL``).

``engine`` opens the database, ``schema`` names its tables, ``migrations`` brings any database to the
current schema, ``usage`` writes and reads the history, ``keys`` keeps the client keys. Everything
speaks SQLAlchemy Core, so one statement serves both engines.
"""
