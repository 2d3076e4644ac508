"""Adapters: one per backend dialect. Each speaks its backend's wire format at the edge
and domain types inward, behind the ``Backend`` port (``atmosphere.ports``)."""
