"""The delivery protocol: a body becomes envelopes (either schema), the two handshakes, the
topic allow-list, and the Call Automation JWT check.

May import ``handlers.errors``, ``handlers.settings``, ``handlers.logs``; never ``http``,
``events``, ``alerting``, ``state`` or ``pipeline``.
"""
