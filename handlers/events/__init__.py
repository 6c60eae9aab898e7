"""The event router and one handler per event family: an envelope becomes an Outcome (status,
code, subcode, masked context) before the catalog is consulted.

May import ``handlers.inbound.envelope`` and ``handlers.inbound.handshake``, ``handlers.masking``,
``handlers.errors``, ``handlers.logs`` and ``catalog.models``; never ``http``, ``alerting``,
``state`` or ``pipeline``.
"""
